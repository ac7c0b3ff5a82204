"""Steps of the e2e tests on real processes: waiting on their JSON log events and the backend's
health, starting a backend with a spawner, spawning through the API, opening calls that silent
humans join, and finding the replica that runs a room."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from livekit import api
from livekit.protocol import models

from shared.contracts.lifecycle import PREFIX
from tests.support.human import Human
from tests.support.platform import OPERATOR, Platform
from tests.support.processes import ServiceProcess

REGISTERED = "registered worker"  # livekit-agents' own log line once the server took the worker
HEARTBEAT = "heartbeat"  # shared.worker: a heartbeat was written (the backend counts the worker)
STATE = f"{PREFIX}state"  # the platform's lifecycle attribute on the agent participant
SESSION_ID = f"{PREFIX}session_id"


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
    """Every worker process has registered with the server and written its first heartbeat, so
    the backend counts it (or one died: its output says why)."""

    def ready() -> bool:
        for process in processes:
            if process.returncode is not None:
                raise AssertionError(f"{process.label} exited:\n{process.output()[-6000:]}")
        return all(p.events(REGISTERED) and p.events(HEARTBEAT) for p in processes)

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


def runner(replicas: Sequence[ServiceProcess], room: str) -> ServiceProcess:
    """The one replica that accepted the job of `room`."""
    [found] = [p for p in replicas if p.events("job_accepted", room=room)]
    return found


@dataclass
class OpenCall:
    """A spawned call a silent human joined and one agent serves."""

    room: str
    human: Human
    agent: str  # the agent participant's identity
    session_id: str
    opened_s: float  # POST /spawn → the agent active, as the human sees it


async def spawn_retrying(
    http: httpx.AsyncClient, api_base: str, agent_id: object, *, tries: int = 3
) -> dict[str, Any]:
    """A spawn as a client makes it: a 503 says when to try again (Retry-After), and is tried
    again. Under the scaling tests' 30-call burst on a 2-core machine one CI run in three saw a
    spawn meet a store deadline (503 store-unavailable); these tests are about how calls are
    shared, and a client retries that answer."""
    for _ in range(tries - 1):
        response = await http.post(f"{api_base}/api/agents/{agent_id}/spawn", headers=OPERATOR)
        if response.status_code != 503:
            assert response.status_code == 201, response.text
            spawned: dict[str, Any] = response.json()
            return spawned
        await asyncio.sleep(min(5, int(response.headers.get("retry-after", "1"))))
    return await spawn(http, api_base, agent_id)


async def open_call(
    http: httpx.AsyncClient, api_base: str, agent_id: object, *, within: float = 90.0
) -> OpenCall:
    """Spawns through the API; a human who neither speaks nor listens joins; returns once the
    one agent in the room is active (the call's session started and recorded)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    spawned = await spawn_retrying(http, api_base, agent_id)
    human = await Human.join(spawned["livekit_url"], spawned["token"], listen=False)
    try:
        agent = await human.agent_attribute(STATE, "active", within=within)
    except BaseException:
        await human.leave()
        raise
    opened = loop.time() - began
    session_id = agent.attributes[SESSION_ID]
    return OpenCall(spawned["room_name"], human, agent.identity, session_id, opened)


async def open_calls(
    http: httpx.AsyncClient,
    api_base: str,
    agent_id: object,
    count: int,
    *,
    into: list[OpenCall],
    at_once: int = 2,
) -> list[OpenCall]:
    """`count` calls, `at_once` of them being opened at a time. At most WORKER_IDLE_PROCESSES
    (2 in the tests' platform) by default: an idle replica takes that many offers at once
    (livekit-agents counts each pending job as threshold / idle of its load), so a burst past
    it, when one fresh replica is the only one with room, finds no worker, and the call waits
    for the reconciler's re-dispatch. Each call is added to `into` as soon as it is open, so
    the test's cleanup hangs up every one if another fails."""
    gate = asyncio.Semaphore(at_once)
    opened: list[OpenCall] = []

    async def one() -> None:
        async with gate:
            call = await open_call(http, api_base, agent_id)
        into.append(call)
        opened.append(call)

    async with asyncio.TaskGroup() as group:
        for _ in range(count):
            group.create_task(one())
    return opened
