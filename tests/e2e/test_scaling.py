"""Scaling the spawner fleet, proven on real processes (issue 16 §5): replicas of
`python -m spawner start` on a real livekit-server, calls opened through the real backend and
joined by real rtc clients (silent: they neither speak nor take the agent's audio, which keeps
dozens of calls affordable on a small machine), the records in the real database.

- Replicas share the load: 30 calls on three replicas, one agent each, every replica takes
  some, none above WORKER_MAX_SESSIONS (read from each worker's own `/worker` health page).
- Scale down: a replica stopped (SIGTERM) under load drains; its calls finish, or end as
  `shutdown` at WORKER_DRAIN_TIMEOUT_S; new calls go to the others; every session is recorded.
- Scale up: a replica started while the fleet is full takes the new calls.
- Multi-node LiveKit: two livekit-server nodes sharing a Redis; workers registered on different
  nodes; rooms created through either node all get their agent.

LiveKit picks a worker at random, weighted by free capacity (`selectWorkerWeightedByLoad` in
livekit-server's agent service), so spreads are reported, not asserted exactly; where a test
needs one outcome it leaves the server a single choice (a full fleet, one worker registered).
Load counts sessions only here (WORKER_LOAD_CPU off): with the default WORKER_LOAD_THRESHOLD
(0.7, also livekit-server's default `agents.target_load`) WORKER_MAX_SESSIONS is the bound
(`shared.worker.session_load`), and the machine's CPU is not a factor.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from livekit import api
from livekit.protocol import models

from shared.store.postgres import PostgresStore
from tests.e2e.support import (
    REGISTERED,
    OpenCall,
    eventually,
    healthy,
    open_calls,
    registered,
    runner,
)
from tests.spawner.conftest import new_agent
from tests.support.livekit_server import api_client, livekit_server
from tests.support.openai import OpenAIDouble
from tests.support.platform import Platform
from tests.support.processes import ServiceProcess
from tests.support.redis_server import redis_server
from voxiectl.livekit_local import Credentials, LiveKitServer, free_port

pytestmark = pytest.mark.timeout(600)

GRACE_S = "8"  # also how long a call waits for its first caller: room for a slow join
DRAIN_S = 25  # well past GRACE_S: a call hung up during the drain ends on its own first
# Spawns are not what is measured: no per-caller rate limit, room for every call.
BACKEND = {
    "GRACE_PERIOD_S": GRACE_S,
    "SPAWN_RATE_PER_MINUTE": "10000",
    "MAX_TOTAL_AGENTS": "200",
}


@dataclass
class Replica:
    """A spawner replica and its health server's port (`GET /worker` → its active jobs)."""

    process: ServiceProcess
    health_port: int

    @property
    def label(self) -> str:
        return self.process.label

    async def active_jobs(self, http: httpx.AsyncClient) -> int:
        info = (await http.get(f"http://127.0.0.1:{self.health_port}/worker")).json()
        return int(info.get("active_jobs", 0))  # proto3 JSON leaves out a zero

    def took(self, call: OpenCall) -> bool:
        return bool(self.process.events("job_accepted", room=call.room))


def start_replica(
    platform: Platform,
    label: str,
    *,
    max_sessions: int,
    drain_s: int = 1,
    env: Mapping[str, str] | None = None,
) -> Replica:
    port = free_port()
    process = platform.spawner(
        label,
        GRACE_PERIOD_S=GRACE_S,
        WORKER_MAX_SESSIONS=str(max_sessions),
        WORKER_DRAIN_TIMEOUT_S=str(drain_s),
        WORKER_HTTP_PORT=str(port),
        **(env or {}),
    )
    return Replica(process, port)


async def fleet(
    platform: Platform, http: httpx.AsyncClient, *, max_sessions: int, drain_s: int = 1
) -> list[Replica]:
    """A backend and three spawner replicas, answering and registered."""
    backend = platform.backend(**BACKEND)
    replicas = [
        start_replica(platform, f"spawner-{n}", max_sessions=max_sessions, drain_s=drain_s)
        for n in (1, 2, 3)
    ]
    await healthy(http, platform.api, backend)
    await registered(*(r.process for r in replicas))
    return replicas


def owner(replicas: Sequence[Replica], call: OpenCall) -> Replica:
    found = runner([r.process for r in replicas], call.room)
    [replica] = [r for r in replicas if r.process is found]
    return replica


def spread(replicas: Sequence[Replica], calls: Sequence[OpenCall]) -> dict[str, int]:
    return {r.label: sum(r.took(c) for c in calls) for r in replicas}


def report(title: str, figures: dict[str, object]) -> None:
    """The figures the issue asks for, on the test's output (`pytest -s` shows them)."""
    print(f"\n[{title}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_agent_each(lk: LiveKitServer, calls: Sequence[OpenCall]) -> None:
    """Every call's room holds exactly one agent participant, by the server's own list."""
    async with api_client(lk) as lkapi:
        for call in calls:
            listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=call.room))
            agents = [
                p.identity
                for p in listed.participants
                if p.kind == models.ParticipantInfo.Kind.AGENT
            ]
            assert agents == [call.agent], (call.room, agents)


async def recorded(database_url: str, calls: Sequence[OpenCall]) -> dict[str, asyncpg.Record]:
    """Every session of the calls' rooms, once all have ended with a reason and have their
    transcript; by session id."""
    rooms = sorted({c.room for c in calls})
    db = await asyncpg.connect(database_url)
    try:

        async def done() -> list[asyncpg.Record] | None:
            rows = await db.fetch(
                "select s.id, s.room_name, s.status, s.end_reason,"
                " t.session_id is not null as transcribed"
                " from call_sessions s left join call_transcripts t on t.session_id = s.id"
                " where s.room_name = any($1::text[])",
                rooms,
            )
            finished = {r["room_name"] for r in rows if r["status"] != "active"}
            if finished != set(rooms) or not all(
                r["status"] != "active" and r["transcribed"] for r in rows
            ):
                return None
            return list(rows)

        rows = await eventually(done, what="every call's session to end, recorded", within=180)
    finally:
        await db.close()
    by_id = {str(r["id"]): r for r in rows}
    for call in calls:
        row = by_id[call.session_id]
        assert row["status"] == "ended" and row["end_reason"], dict(row)
    return by_id


def gone(call: OpenCall) -> bool:
    """The call's agent has left its room, as its caller sees it."""
    return call.agent not in {a.identity for a in call.human.agents()}


async def hang_up(calls: Sequence[OpenCall]) -> None:
    for call in calls:
        await call.human.leave()


# --- 1. replicas share the load ----------------------------------------------------------------


async def test_three_replicas_share_thirty_calls_one_agent_each_none_above_its_maximum(
    platform: Platform,
    http: httpx.AsyncClient,
    store: PostgresStore,
    lk: LiveKitServer,
    database_url: str,
) -> None:
    maximum, count = 11, 30  # 33 places for 30 calls: the bound is reached in most runs
    replicas = await fleet(platform, http, max_sessions=maximum)
    agent = await store.create_agent(new_agent())

    calls: list[OpenCall] = []
    try:
        await open_calls(http, platform.api, agent.id, count, into=calls)
        assert len({c.room for c in calls}) == count
        await one_agent_each(lk, calls)
        for call in calls:
            owner(replicas, call)  # exactly one replica accepted each room's job
        taken = spread(replicas, calls)
        # All 30 are still open: each worker's own count is its share, and is within the bound.
        active = {r.label: await r.active_jobs(http) for r in replicas}
        times = [c.opened_s for c in calls]
        report(
            "30 calls on 3 replicas",
            {
                "spread": taken,
                "active_jobs": active,
                "max_sessions": maximum,
                "spawn_to_agent_p50_s": round(quantile(times, 0.5), 2),
                "p95_s": round(quantile(times, 0.95), 2),
            },
        )
        assert active == taken
        assert sum(taken.values()) == count
        assert all(n >= 1 for n in taken.values()), taken
        assert all(n <= maximum for n in taken.values()), taken
    finally:
        await hang_up(calls)
    sessions = await recorded(database_url, calls)
    assert {sessions[c.session_id]["end_reason"] for c in calls} == {"grace_expired"}


# --- 2. scale down without dropping a call -------------------------------------------------------


async def test_a_replica_stopped_under_load_drains_and_the_others_take_the_new_calls(
    platform: Platform, http: httpx.AsyncClient, store: PostgresStore, database_url: str
) -> None:
    replicas = await fleet(platform, http, max_sessions=6, drain_s=DRAIN_S)
    agent = await store.create_agent(new_agent())

    calls: list[OpenCall] = []
    try:
        first = await open_calls(http, platform.api, agent.id, 6, into=calls)
        # The busiest replica goes: six calls on three replicas put two or more on it.
        victim = max(replicas, key=lambda r: sum(r.took(c) for c in first))
        finishing, *held = [c for c in first if victim.took(c)]
        others = [r for r in replicas if r is not victim]
        victim.process.signal(signal.SIGTERM)
        await eventually(lambda: victim.process.events("draining worker"), what="the drain")
        # One of its callers hangs up: that call finishes normally while the worker drains.
        await finishing.human.leave()

        later = await open_calls(http, platform.api, agent.id, 4, into=calls)
        assert all(owner(replicas, c) in others for c in later)
        await eventually(
            lambda: victim.process.returncode is not None, what="the drained exit", within=120
        )
        # The calls it still held ended at the drain deadline; their callers saw it leave.
        for call in held:
            await call.human.until(functools.partial(gone, call), what="the drained agent to leave")
        report(
            "scale down",
            {
                "first": spread(replicas, first),
                "stopped": victim.label,
                "later": spread(replicas, later),
            },
        )
    finally:
        await hang_up(calls)
    sessions = await recorded(database_url, calls)
    assert sessions[finishing.session_id]["end_reason"] == "grace_expired"
    assert {sessions[c.session_id]["end_reason"] for c in held} == {"shutdown"}
    untouched = [c for c in calls if not victim.took(c)]
    assert {sessions[c.session_id]["end_reason"] for c in untouched} == {"grace_expired"}
    assert not victim.process.events("entrypoint did not exit in time, cancelling")


# --- 3. scale up under load ----------------------------------------------------------------------


async def test_a_replica_started_while_the_fleet_is_full_takes_the_new_calls(
    platform: Platform, http: httpx.AsyncClient, store: PostgresStore, database_url: str
) -> None:
    maximum = 3
    replicas = await fleet(platform, http, max_sessions=maximum)
    agent = await store.create_agent(new_agent())

    calls: list[OpenCall] = []
    try:
        await open_calls(http, platform.api, agent.id, 3 * maximum, into=calls)
        assert [await r.active_jobs(http) for r in replicas] == [maximum] * 3  # full

        fourth = start_replica(platform, "spawner-4", max_sessions=maximum)
        await registered(fourth.process)
        later = await open_calls(http, platform.api, agent.id, maximum, into=calls)
        assert all(owner([*replicas, fourth], c) is fourth for c in later)
        assert await fourth.active_jobs(http) == maximum
        report("scale up", {"full_fleet": 3 * maximum, "fourth_took": len(later)})
    finally:
        await hang_up(calls)
    sessions = await recorded(database_url, calls)
    assert {sessions[c.session_id]["end_reason"] for c in calls} == {"grace_expired"}


# --- 4. multi-node LiveKit -----------------------------------------------------------------------


@dataclass
class TwoNodes:
    a: LiveKitServer
    b: LiveKitServer
    platform: Platform  # its default LiveKit is node A (the report hook finds its processes)


@pytest.fixture
def two_nodes(tmp_path: Path, database_url: str, model: OpenAIDouble) -> Iterator[TwoNodes]:
    """Two livekit-server nodes on one Redis, with the same keys; webhooks to backend A."""
    backend_port = free_port()
    webhook = [f"http://127.0.0.1:{backend_port}/api/livekit/webhook"]
    credentials = Credentials.generate()
    with (
        redis_server(tmp_path / "redis") as redis,
        livekit_server(
            tmp_path / "node-a", webhook_urls=webhook, credentials=credentials, redis_address=redis
        ) as a,
        livekit_server(
            tmp_path / "node-b", webhook_urls=webhook, credentials=credentials, redis_address=redis
        ) as b,
    ):
        platform = Platform(a, database_url, tmp_path, backend_port, model.env())
        try:
            yield TwoNodes(a, b, platform)
        finally:
            platform.stop()


async def test_two_livekit_nodes_on_one_redis_every_room_gets_its_agent_whichever_node(
    two_nodes: TwoNodes, http: httpx.AsyncClient, store: PostgresStore, database_url: str
) -> None:
    platform, a, b = two_nodes.platform, two_nodes.a, two_nodes.b
    port_b = free_port()
    api_b = f"http://127.0.0.1:{port_b}"
    backend_a = platform.backend("backend-a", **BACKEND)
    node_b = {"LIVEKIT_URL": b.url}
    backend_b = platform.backend("backend-b", BACKEND_PORT=str(port_b), **node_b, **BACKEND)
    on_b = start_replica(platform, "spawner-on-b", max_sessions=8, env=node_b)
    await healthy(http, platform.api, backend_a)
    await healthy(http, api_b, backend_b)
    await registered(on_b.process)
    assert {e["url"] for e in on_b.process.events(REGISTERED)} == {b.url}
    agent = await store.create_agent(new_agent())

    calls: list[OpenCall] = []
    try:
        # The only worker is on node B; rooms created and joined through node A get it.
        across = await open_calls(http, platform.api, agent.id, 2, into=calls)
        assert all(on_b.took(c) for c in across)

        on_a = start_replica(platform, "spawner-on-a", max_sessions=8)
        await registered(on_a.process)
        assert {e["url"] for e in on_a.process.events(REGISTERED)} == {a.url}
        through_a = await open_calls(http, platform.api, agent.id, 3, into=calls)
        through_b = await open_calls(http, api_b, agent.id, 3, into=calls)
        for call in calls:
            owner([on_a, on_b], call)
        # Either node answers for every room: the state is shared through Redis.
        await one_agent_each(a, calls)
        await one_agent_each(b, calls)
        report(
            "two nodes",
            {
                "via_a": spread([on_a, on_b], through_a),
                "via_b": spread([on_a, on_b], through_b),
                "only_b_registered": len(across),
            },
        )
    finally:
        await hang_up(calls)
    sessions = await recorded(database_url, calls)
    assert {sessions[c.session_id]["end_reason"] for c in calls} == {"grace_expired"}
