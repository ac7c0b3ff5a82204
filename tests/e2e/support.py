"""Steps of the e2e tests on real processes: waiting on their JSON log events and the backend's
health, starting a backend with a spawner, spawning through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from livekit import api
from livekit.protocol import models

from shared.contracts.lifecycle import PREFIX
from tests.support.platform import OPERATOR, Platform
from tests.support.processes import ServiceProcess

REGISTERED = "registered worker"
STATE = f"{PREFIX}state"  # livekit-agents' own log line once the server took the worker


async def eventually(
    check: Callable[[], Awaitable[object] | object], *, what: str, within: float = 60.0
) -> Any:
    """The first truthy result of `check()` (sync or async), polled until `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"waited {within:.0f} s for {what}")
        await asyncio.sleep(0.1)


async def registered(*processes: ServiceProcess, within: float = 90.0) -> None:
    """Every worker process has registered with the server (or one died: its output says why)."""

    def ready() -> bool:
        for process in processes:
            if process.returncode is not None:
                raise AssertionError(f"{process.label} exited:\n{process.output()[-6000:]}")
        return all(p.events(REGISTERED) for p in processes)

    await eventually(ready, what="the workers to register", within=within)


async def healthy(http: httpx.AsyncClient, base: str, backend: ServiceProcess) -> None:
    async def up() -> bool:
        if backend.returncode is not None:
            raise AssertionError(f"the backend exited:\n{backend.output()[-6000:]}")
        try:
            return (await http.get(f"{base}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(up, what="the backend to answer", within=60)


async def room_exists(lkapi: api.LiveKitAPI, room: str, *, expected: bool = True) -> bool:
    """Whether the server lists `room` is `expected`."""
    listed = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room]))
    return bool(listed.rooms) is expected


async def agent_state(lkapi: api.LiveKitAPI, room: str, state: str) -> bool:
    """Whether an agent in `room` publishes `platform.state = state`, by the server's list."""
    listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    return any(
        p.kind == models.ParticipantInfo.Kind.AGENT and p.attributes.get(STATE) == state
        for p in listed.participants
    )


async def serving(platform: Platform, http: httpx.AsyncClient, **env: str) -> ServiceProcess:
    """A backend and one spawner (returned) with the same extra environment, answering and
    registered; the platform stops both."""
    backend, spawner = platform.backend(**env), platform.spawner(**env)
    await healthy(http, platform.api, backend)
    await registered(spawner)
    return spawner


async def spawn(
    http: httpx.AsyncClient, api_base: str, agent_id: object, *, version: object = None
) -> dict[str, Any]:
    """`POST /api/agents/{id}/spawn[?version=…]` as the operator: the 201 body (room, token,
    URL, the version the call runs)."""
    params = {"version": str(version)} if version is not None else None
    response = await http.post(
        f"{api_base}/api/agents/{agent_id}/spawn", headers=OPERATOR, params=params
    )
    assert response.status_code == 201, response.text
    spawned: dict[str, Any] = response.json()
    return spawned
