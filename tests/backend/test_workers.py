"""Rooms no worker could take are refused at once, from the workers' heartbeats
(backend.workers): with no live worker of the room's kind, or every live one full, the spawn
and the Voxie session answer 503 with Retry-After and the sentence the dashboard shows, before
LiveKit or the capacity slots are touched; `/readyz` counts the live workers."""

from __future__ import annotations

import dataclasses

import httpx
from livekit import api

from shared.contracts.workers import SHORTAGE_MESSAGES, Shortage
from shared.naming import WorkerRole
from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, OPERATOR, AgentFactory, worker_beat
from tests.support.livekit import LiveKitDouble

PATHS = {
    WorkerRole.SPAWNER: "/api/agents/{agent_id}/spawn",
    WorkerRole.VOXIE: "/api/voxie/sessions",
}
# The operator opens a Voxie session on a user's behalf (its own would be refused: 403).
FOR_ALICE = {"owner_id": str(ALICE)}


async def rooms(livekit: LiveKitDouble) -> list[str]:
    async with livekit.api() as client:
        listed = await client.room.list_rooms(api.ListRoomsRequest())
    return [room.name for room in listed.rooms]


async def test_no_live_worker_is_a_503_at_once_and_no_room(
    client: httpx.AsyncClient,
    store: PostgresStore,
    livekit: LiveKitDouble,
    make_agent: AgentFactory,
) -> None:
    agent = await make_agent()
    for role in PATHS:
        assert await store.worker_gone(f"AW_{role.value}")
    for role, path in PATHS.items():
        body = FOR_ALICE if role is WorkerRole.VOXIE else None
        response = await client.post(path.format(agent_id=agent.id), headers=OPERATOR, json=body)
        assert response.status_code == 503, response.text
        problem = response.json()
        assert problem["type"].endswith(Shortage.NO_WORKER.value)
        assert problem["detail"] == SHORTAGE_MESSAGES[Shortage.NO_WORKER]
        assert problem["detail"].startswith("No agent worker is running")
        assert int(response.headers["retry-after"]) > 0
    assert await rooms(livekit) == []
    # A worker that registers a moment later is seen at once (a refusal is never cached).
    await store.worker_heartbeat(worker_beat(WorkerRole.SPAWNER), ttl_s=60)
    spawned = await client.post(
        PATHS[WorkerRole.SPAWNER].format(agent_id=agent.id), headers=OPERATOR
    )
    assert spawned.status_code == 201, spawned.text


async def test_every_live_worker_full_is_a_503_saying_they_are_busy(
    client: httpx.AsyncClient,
    store: PostgresStore,
    livekit: LiveKitDouble,
    make_agent: AgentFactory,
) -> None:
    agent = await make_agent()
    await store.worker_heartbeat(worker_beat(WorkerRole.SPAWNER, available=False), ttl_s=60)
    await store.worker_heartbeat(
        worker_beat(WorkerRole.SPAWNER, available=False, worker_id="AW_second"), ttl_s=60
    )
    response = await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)
    assert response.status_code == 503, response.text
    assert response.json()["type"].endswith(Shortage.ALL_BUSY.value)
    assert response.json()["detail"] == "All agent workers are busy — try again in a moment"
    assert response.headers["retry-after"]
    assert await rooms(livekit) == []
    # Voxie's workers are not the spawner's: a Voxie session still opens.
    voxie = await client.post("/api/voxie/sessions", headers=OPERATOR, json=FOR_ALICE)
    assert voxie.status_code == 201, voxie.text
    # One place frees: the next test call goes ahead.
    await store.worker_heartbeat(worker_beat(WorkerRole.SPAWNER, worker_id="AW_second"), ttl_s=60)
    assert (await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)).status_code == 201


async def test_workers_of_another_deployment_or_agent_name_do_not_count(
    client: httpx.AsyncClient, store: PostgresStore, make_agent: AgentFactory
) -> None:
    agent = await make_agent()
    assert await store.worker_gone("AW_spawner")
    beat = worker_beat(WorkerRole.SPAWNER)
    for other in (
        dataclasses.replace(beat, worker_id="AW_staging", deployment="staging"),
        dataclasses.replace(beat, worker_id="AW_renamed", agent_name="spawner-x"),
    ):
        await store.worker_heartbeat(other, ttl_s=60)
    response = await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)
    assert response.status_code == 503, response.text


async def test_readyz_counts_the_live_workers_of_each_kind(
    client: httpx.AsyncClient, store: PostgresStore
) -> None:
    await store.worker_heartbeat(
        worker_beat(WorkerRole.SPAWNER, available=False, worker_id="AW_full"), ttl_s=60
    )
    assert await store.worker_gone("AW_voxie")
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["workers"] == {
        "spawner": {"alive": 2, "available": 1},
        "voxie": {"alive": 0, "available": 0},
    }
