"""Admission under concurrency: MAX_TOTAL_AGENTS holds for bursts of spawns on one replica and
on two real backend processes sharing a database, and a place comes back when its room ends
(webhook, reconciler) or is never made."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from livekit import api

from backend.app import create_app
from shared.contracts import AgentConfig
from tests.backend.conftest import (
    ADMIN_TOKEN,
    ALICE,
    JWT_SECRET,
    OPERATOR,
    AgentFactory,
    backend_settings,
    serving,
)
from tests.backend.test_webhook import HOOK, finished_event
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.webhooks import signed_headers
from tests.support.postgrest import PostgrestDouble, make_jwt
from tests.support.processes import ServiceProcess
from voxiectl.livekit_local import free_port

pytestmark = pytest.mark.timeout(120)
CAP = 2
BURST = 30


async def rooms_of(livekit_api: api.LiveKitAPI) -> list[str]:
    return [r.name for r in (await livekit_api.room.list_rooms(api.ListRoomsRequest())).rooms]


async def burst(clients: list[httpx.AsyncClient], agent: AgentConfig) -> collections.Counter[int]:
    """BURST spawns at once, spread over `clients`; how many got each status."""
    answers = await asyncio.gather(
        *(
            clients[i % len(clients)].post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)
            for i in range(BURST)
        )
    )
    for answer in answers:
        assert answer.status_code in (201, 429), answer.text
        if answer.status_code == 429:
            assert answer.json()["type"].endswith("at-capacity")
    return collections.Counter(a.status_code for a in answers)


async def test_a_burst_of_spawns_on_one_replica_never_passes_the_cap(
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    database_url: str,
    make_agent: AgentFactory,
) -> None:
    settings = backend_settings(
        livekit, database_url, max_total_agents=CAP, spawn_rate_per_minute=10_000
    )
    agent = await make_agent(ALICE)
    async with serving(create_app(settings, reconcile=False)) as client:
        statuses = await burst([client], agent)
    assert statuses[201] == CAP, statuses
    assert len(await rooms_of(livekit_api)) == CAP


@pytest.fixture(params=["postgres", "supabase"])
def store_env(request: pytest.FixtureRequest, database_url: str) -> dict[str, str]:
    if request.param == "postgres":
        return {"DATABASE_URL": database_url}
    postgrest: PostgrestDouble = request.getfixturevalue("postgrest")
    return {
        "SUPABASE_URL": postgrest.url,
        "SUPABASE_SERVICE_ROLE_KEY": make_jwt(JWT_SECRET, role="service_role"),
    }


@pytest.fixture
def replicas(
    livekit: LiveKitDouble, store_env: dict[str, str], tmp_path: Path
) -> Iterator[list[tuple[ServiceProcess, str]]]:
    """Two `python -m backend` processes on one LiveKit and one database, at cap CAP."""
    started: list[tuple[ServiceProcess, str]] = []
    for label in ("backend-a", "backend-b"):
        port = free_port()
        env = {
            **store_env,
            "PLATFORM_ENV": "test",
            "LIVEKIT_URL": livekit.url,
            "LIVEKIT_API_KEY": livekit.api_key,
            "LIVEKIT_API_SECRET": livekit.api_secret,
            "BACKEND_PORT": str(port),
            "BACKEND_ADMIN_TOKEN": ADMIN_TOKEN,
            "MAX_TOTAL_AGENTS": str(CAP),
            "SPAWN_RATE_PER_MINUTE": "10000",
            "GC_INTERVAL_S": "3600",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "warning",
        }
        process = ServiceProcess(["-m", "backend"], tmp_path, label=label, env=env)
        started.append((process, f"http://127.0.0.1:{port}"))
    yield started
    for process, _ in started:
        process.stop()


@pytest.fixture
async def replica_clients(
    replicas: list[tuple[ServiceProcess, str]],
) -> AsyncIterator[list[httpx.AsyncClient]]:
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for _, url in replicas]
    try:
        for (process, _), client in zip(replicas, clients, strict=True):
            for _ in range(600):
                assert process.returncode is None, process.output()
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail(f"{process.label} did not come up:\n{process.output()}")
        yield clients
    finally:
        for client in clients:
            await client.aclose()


async def test_a_burst_of_spawns_on_two_replicas_sharing_a_database_never_passes_the_cap(
    replica_clients: list[httpx.AsyncClient],
    livekit_api: api.LiveKitAPI,
    make_agent: AgentFactory,
) -> None:
    agent = await make_agent(ALICE)
    statuses = await burst(replica_clients, agent)
    assert statuses[201] == CAP, statuses
    assert len(await rooms_of(livekit_api)) == CAP


@pytest.fixture
async def one_place(
    livekit: LiveKitDouble, database_url: str, make_agent: AgentFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A backend with room for one agent, and the spawn path of an agent to fill it with."""
    settings = backend_settings(livekit, database_url, max_total_agents=1)
    agent = await make_agent(ALICE)
    async with serving(create_app(settings, reconcile=False)) as client:
        yield client, f"/api/agents/{agent.id}/spawn"


async def test_a_place_comes_back_when_creation_fails_and_when_the_room_finishes(
    one_place: tuple[httpx.AsyncClient, str],
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
) -> None:
    client, spawn = one_place
    async with livekit.outage():
        assert (await client.post(spawn, headers=OPERATOR)).status_code == 503
    # The failed creation gave its place back.
    first = await client.post(spawn, headers=OPERATOR)
    assert first.status_code == 201, first.text
    assert (await client.post(spawn, headers=OPERATOR)).status_code == 429

    room = first.json()["room_name"]
    await livekit_api.room.delete_room(api.DeleteRoomRequest(room=room))
    body = finished_event(room)
    signed = signed_headers(body, livekit.api_key, livekit.api_secret)
    hook = await client.post(HOOK, content=body, headers=signed)
    assert hook.status_code == 200, hook.text
    # room_finished gave the place back at once (not only when the slot expires).
    assert (await client.post(spawn, headers=OPERATOR)).status_code == 201


async def test_the_reconciler_frees_the_place_of_a_room_that_ended_unseen(
    one_place: tuple[httpx.AsyncClient, str],
    livekit_api: api.LiveKitAPI,
    database_url: str,
) -> None:
    client, spawn = one_place
    first = await client.post(spawn, headers=OPERATOR)
    assert first.status_code == 201, first.text
    room = first.json()["room_name"]
    # The room ends and its webhook is lost; the slot is old enough not to be in flight.
    await livekit_api.room.delete_room(api.DeleteRoomRequest(room=room))
    db = await asyncpg.connect(database_url)
    try:
        await db.execute(
            "update public.agent_slots set reserved_at = now() - interval '1 hour'"
            " where room_name = $1",
            room,
        )
        assert (await client.post(spawn, headers=OPERATOR)).status_code == 429
        assert (await client.post("/api/gc", headers=OPERATOR)).status_code == 200
        assert await db.fetchval("select count(*) from public.agent_slots") == 0
    finally:
        await db.close()
    assert (await client.post(spawn, headers=OPERATOR)).status_code == 201
