"""Real `python -m spawner start` processes against the LiveKit double and a real Postgres.

Three replicas share one double for the module: `a` and `b` (PLATFORM_ENV=test, registered as
`spawner-test`) and `staging` (PLATFORM_ENV=staging, but registered under the same agent name:
the seeds' staging outage), so routing is observed on real offers, answers and assignments.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest
from livekit import api

from shared.contracts import AgentConfig
from shared.naming import agent_room_name, voxie_room_name
from shared.store.postgres import PostgresStore
from tests.spawner.conftest import (
    SpawnerProcess,
    create_agent_room,
    dispatch_metadata,
    ended,
    new_agent,
    session_row,
    spawner_error,
)
from tests.support.livekit import NO_SFU, LiveKitDouble
from tests.support.livekit.processes import serving
from tests.support.livekit.rooms import AGENT

pytestmark = pytest.mark.timeout(180)

NAME = "spawner-test"


@pytest.fixture(scope="module")
def double() -> Iterator[LiveKitDouble]:
    with LiveKitDouble(seed=5) as livekit:
        yield livekit


@pytest.fixture(scope="module")
async def replicas(
    double: LiveKitDouble, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, SpawnerProcess]]:
    directory: Path = tmp_path_factory.mktemp("spawners")
    started = {
        label: SpawnerProcess(double, directory, label=label, database_url=database_url, env=env)
        for label, env in [
            ("a", {}),
            ("b", {}),
            ("staging", {"PLATFORM_ENV": "staging", "SPAWNER_AGENT_NAME": NAME}),
        ]
    }
    async with serving(double, started, NAME, started_event="spawner_started"):
        yield started


@dataclass
class Cluster:
    double: LiveKitDouble
    replicas: dict[str, SpawnerProcess]
    client: api.LiveKitAPI


@pytest.fixture
async def cluster(
    double: LiveKitDouble, replicas: dict[str, SpawnerProcess]
) -> AsyncIterator[Cluster]:
    """The module's double and replicas, and a LiveKit API client for the test."""
    async with double.api() as client:
        yield Cluster(double, replicas, client)


def worker_id(process: SpawnerProcess) -> str:
    [registered] = process.events("registered worker")
    return str(registered["id"])


def requests_for(replicas: dict[str, SpawnerProcess], room: str) -> dict[str, int]:
    return {
        label: len(p.events("received job request", room=room)) for label, p in replicas.items()
    }


async def test_replicas_register_under_the_deployments_agent_name(
    cluster: Cluster,
) -> None:
    assert {w.id for w in await cluster.double.workers(NAME)} == {
        worker_id(p) for p in cluster.replicas.values()
    }
    # `a` derived its name from PLATFORM_ENV=test; nothing registered unnamed.
    assert cluster.replicas["a"].events("registered worker")[0]["agent_name"] == NAME
    assert await cluster.double.workers("") == []


async def test_an_agent_room_runs_its_config_before_connecting_and_fails_at_the_missing_sfu(
    cluster: Cluster,
    store: PostgresStore,
    db: asyncpg.Connection,
) -> None:
    agent = await store.create_agent(new_agent())
    room = await create_agent_room(cluster.client, NAME, agent.id)
    job = await ended(cluster.double, room)
    runner = next(p for p in cluster.replicas.values() if worker_id(p) == job.worker_id)
    assert runner.label in ("a", "b")

    row = await session_row(cluster.double, db, room)
    assert (row["agent_id"], row["owner_id"], row["kind"], row["deployment"]) == (
        agent.id,
        agent.owner_id,
        "test",
        "test",
    )
    assert (row["status"], row["end_reason"], row["job_id"]) == ("failed", "error", job.id)
    assert row["participant_identity"] == "user:tester"
    assert NO_SFU in row["error"]

    lines = [e["event"] for e in runner.events(job_id=job.id)]
    # The config was loaded and the session built before the room connection failed.
    assert lines.index("agent_ready") < lines.index("call_failed")
    [ready] = runner.events("agent_ready", job_id=job.id)
    assert ready["agent_id"] == str(agent.id) and ready["room"] == room
    assert ready["admission_ms"] > 0


@pytest.mark.parametrize("room", [voxie_room_name(), f"lobby-{uuid.uuid4().hex[:8]}"])
async def test_rooms_of_other_kinds_are_rejected_for_good(cluster: Cluster, room: str) -> None:
    await cluster.client.room.create_room(
        api.CreateRoomRequest(name=room, agents=[api.RoomAgentDispatch(agent_name=NAME)])
    )
    job = await ended(cluster.double, room)
    assert job.participant_identity == ""  # never assigned
    # terminate=True: the one worker asked ended the job; nobody else was offered it.
    assert sum(requests_for(cluster.replicas, room).values()) == 1


async def test_jobs_go_to_the_replicas_of_their_own_deployment(
    cluster: Cluster,
    store: PostgresStore,
) -> None:
    agent = await store.create_agent(new_agent())
    ours = [await create_agent_room(cluster.client, NAME, agent.id) for _ in range(4)]
    theirs = [
        await create_agent_room(cluster.client, NAME, agent.id, deployment="staging")
        for _ in range(4)
    ]
    staging = worker_id(cluster.replicas["staging"])
    for room in ours:
        assert (await ended(cluster.double, room)).worker_id != staging
    for room in theirs:
        assert (await ended(cluster.double, room)).worker_id == staging
    # Whoever was offered a job of the other deployment passed it on (terminate=False) and
    # said loudly that two deployments share the name.
    passed = [
        e
        for room in [*ours, *theirs]
        for p in cluster.replicas.values()
        for e in p.events("job_rejected", room=room)
    ]
    assert passed and all(e["verdict"] == "other_deployment" for e in passed)
    assert all(e["terminate"] is False for e in passed)
    warned = sum(
        len(p.events("agent_name_shared_by_two_deployments")) for p in cluster.replicas.values()
    )
    assert warned >= len(passed)


async def test_two_replicas_share_the_jobs(
    cluster: Cluster,
    store: PostgresStore,
) -> None:
    agent = await store.create_agent(new_agent())
    rooms = [await create_agent_room(cluster.client, NAME, agent.id) for _ in range(12)]
    runners = {(await ended(cluster.double, room)).worker_id for room in rooms}
    assert runners == {worker_id(cluster.replicas["a"]), worker_id(cluster.replicas["b"])}


async def test_malformed_or_mismatched_metadata_is_rejected_for_good(
    cluster: Cluster,
    agent: AgentConfig,
) -> None:
    malformed = await create_agent_room(
        cluster.client, NAME, agent.id, metadata='{"agent_id": "nope"'
    )
    other = dispatch_metadata(uuid4())
    mismatched = await create_agent_room(cluster.client, NAME, agent.id, metadata=other)
    for room, verdict in [(malformed, "malformed_metadata"), (mismatched, "agent_mismatch")]:
        job = await ended(cluster.double, room)
        assert job.participant_identity == ""
        rejected = [
            e for p in cluster.replicas.values() for e in p.events("job_rejected", room=room)
        ]
        final = [e for e in rejected if e["terminate"]]
        # One replica refused it for good (the staging one may have passed it on first).
        assert [e["verdict"] for e in final] == [verdict]
        assert all(e["verdict"] == "other_deployment" for e in rejected if e not in final)
        assert sum(requests_for(cluster.replicas, room).values()) == len(rejected)


async def test_unknown_archived_draft_and_invalid_agents_end_cleanly_and_tell_the_room(
    cluster: Cluster,
    store: PostgresStore,
    db: asyncpg.Connection,
) -> None:
    archived = await store.create_agent(new_agent())
    await store.archive_agent(archived.id)
    invalid = await store.create_agent(new_agent())
    # Written around the contracts (by hand, by an old version): the spawner never runs it.
    await db.execute(
        """update agents set tools = '[{"type": "carrier_pigeon"}]' where id = $1""", invalid.id
    )
    # A draft is refused by the rule the backend applies too (shared `check_runnable`).
    draft = await store.create_agent(new_agent(status="draft"))
    unknown = uuid4()
    cases = [
        (unknown, "agent_not_found", None),
        (archived.id, "agent_archived", archived.id),
        (draft.id, "agent_not_active", draft.id),
        (invalid.id, "invalid_config", invalid.id),
    ]
    rooms = [await create_agent_room(cluster.client, NAME, agent_id) for agent_id, _, _ in cases]
    for room, (agent_id, code, stored_agent) in zip(rooms, cases, strict=True):
        message = await spawner_error(cluster.double, room)
        assert (message["code"], message["agent_id"]) == (code, str(agent_id))
        assert message["message"]  # words the dashboard shows
        row = await session_row(cluster.double, db, room)
        assert (row["status"], row["end_reason"], row["agent_id"]) == (
            "failed",
            "error",
            stored_agent,
        )
        assert row["error"].startswith(code)
        job = await ended(cluster.double, room)
        assert job.status_name == "JS_SUCCESS"  # ended cleanly, never connected
    # And the replicas keep serving.
    good = await store.create_agent(new_agent())
    room = await create_agent_room(cluster.client, NAME, good.id)
    assert (await session_row(cluster.double, db, room))["agent_id"] == good.id


async def test_a_second_agent_in_the_room_leaves_at_once(
    cluster: Cluster,
    agent: AgentConfig,
    db: asyncpg.Connection,
) -> None:
    room = agent_room_name(agent.id)
    await cluster.client.room.create_room(api.CreateRoomRequest(name=room))
    await cluster.double.join(room, "agent-first", kind=AGENT)
    await cluster.client.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(
            room=room, agent_name=NAME, metadata=dispatch_metadata(agent.id)
        )
    )
    job = await ended(cluster.double, room)
    runner = next(p for p in cluster.replicas.values() if worker_id(p) == job.worker_id)
    [left] = runner.events("another_agent_in_room", job_id=job.id)
    assert left["agents"] == ["agent-first"]
    assert runner.events("agent_ready", job_id=job.id) == []
    listed = await cluster.client.room.list_participants(api.ListParticipantsRequest(room=room))
    assert [p.identity for p in listed.participants] == ["agent-first"]
    assert await db.fetchval("select count(*) from call_sessions where room_name = $1", room) == 0
