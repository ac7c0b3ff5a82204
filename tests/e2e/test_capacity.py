"""A test call gets its agent on a busy machine, and a dispatch livekit-server drops or refuses is
seen and healed fast (issue 22 item 2, issue 27 item 5), on the real server with real workers:

- a CPU hog on every core beside a single spawner counting its own CPU: sequential calls are
  still answered (its load is its own, never the machine's);
- a spawn before any spawner runs: 503 at once; a spawn the backend let through while no
  spawner was registered (the last one just died, its heartbeat not yet expired): the server
  drops the dispatch, and the reconciler re-dispatches it once a new spawner registers, long
  before AGENT_STARTUP_TIMEOUT_S;
- a dispatch the server refused because the only spawner was full: re-dispatched once its place
  frees.

AGENT_STARTUP_TIMEOUT_S is set far beyond the waits, so only the fast path can heal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import asyncpg
import httpx
import pytest

from shared.naming import WorkerRole
from shared.store.postgres import PostgresStore
from tests.backend.conftest import worker_beat
from tests.e2e.support import (
    STATE,
    eventually,
    healthy,
    open_call,
    registered,
    spawn,
)
from tests.spawner.conftest import new_agent
from tests.support.human import Human
from tests.support.platform import OPERATOR, Platform

REFUSED = "no workers with sufficient capacity"  # livekit-server's log when every worker is full
SLOW_PATH = {"AGENT_STARTUP_TIMEOUT_S": "600", "GC_INTERVAL_S": "600"}


@pytest.fixture(autouse=True)
async def no_heartbeats(database_url: str) -> None:
    """Workers of earlier tests (their heartbeats outlive them by a few seconds) do not count."""
    db = await asyncpg.connect(database_url)
    try:
        await db.execute("delete from worker_heartbeats")
    finally:
        await db.close()


@pytest.fixture
def cpu_hogs() -> Iterator[None]:
    """`python -c 'while True: pass'`, one per core, for the test's length."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.fixture
async def human_guard() -> AsyncIterator[list[Human]]:
    joined: list[Human] = []
    yield joined
    for human in joined:
        await human.leave()


async def spawn_and_join(
    http: httpx.AsyncClient, platform: Platform, agent_id: object, joined: list[Human]
) -> tuple[str, Human]:
    """A spawn through the API that must succeed, and a silent human in its room."""
    spawned = await spawn(http, platform.api, agent_id)
    human = await Human.join(spawned["livekit_url"], spawned["token"], listen=False)
    joined.append(human)
    return spawned["room_name"], human


async def close_room(http: httpx.AsyncClient, api_base: str, room: str) -> None:
    closed = await http.post(f"{api_base}/api/rooms/{room}/close", headers=OPERATOR)
    assert closed.status_code == 200, closed.text


@pytest.mark.timeout(420)
async def test_sequential_calls_are_answered_beside_a_cpu_hog(
    platform: Platform,
    http: httpx.AsyncClient,
    store: PostgresStore,
    cpu_hogs: None,
    human_guard: list[Human],
) -> None:
    backend = platform.backend(**SLOW_PATH)
    # The load counts this replica's own CPU too (the stricter case; the default counts
    # sessions only): the hogs fill the machine, not the replica.
    spawner = platform.spawner(WORKER_LOAD_CPU="true")
    await healthy(http, platform.api, backend)
    await registered(spawner)
    agent = await store.create_agent(new_agent())
    for _ in range(3):
        call = await open_call(http, platform.api, agent.id, within=120)
        human_guard.append(call.human)
        await close_room(http, platform.api, call.room)
    assert not spawner.events("heartbeat", available=False), "the spawner said it was full"


@pytest.mark.timeout(300)
async def test_a_spawn_without_a_spawner_is_refused_and_a_dropped_one_healed_on_registration(
    platform: Platform,
    http: httpx.AsyncClient,
    store: PostgresStore,
    human_guard: list[Human],
) -> None:
    backend = platform.backend(**SLOW_PATH)
    await healthy(http, platform.api, backend)
    agent = await store.create_agent(new_agent())

    # No spawner has ever run: refused at once, nothing made.
    refused = await http.post(f"{platform.api}/api/agents/{agent.id}/spawn", headers=OPERATOR)
    assert refused.status_code == 503, refused.text
    assert refused.json()["type"].endswith("no-agent-worker")
    assert int(refused.headers["retry-after"]) > 0
    ready = (await http.get(f"{platform.api}/readyz")).json()
    assert ready["workers"]["spawner"] == {"alive": 0, "available": 0}

    # A spawner's heartbeat outlives it (it died before LiveKit saw it register), so the next
    # spawn is let through, and livekit-server, with no spawner registered, drops its dispatch.
    # (A heartbeat written here, not a spawner killed: after a kill the server may still hand
    # the job to the dead worker for a moment, a job listed on the dispatch, which is the
    # startup timeout's case, not this one.)
    await store.worker_heartbeat(worker_beat(WorkerRole.SPAWNER, worker_id="AW_gone"), ttl_s=3600)
    room, human = await spawn_and_join(http, platform, agent.id, human_guard)

    # A new spawner registers: its heartbeat wakes the reconciler, which re-dispatches.
    second = platform.spawner("spawner-2")
    await registered(second)
    await human.agent_attribute(STATE, "active", within=60)
    assert backend.events("reconciler_action", action="redispatched_dropped", room=room)
    assert second.events("job_accepted", room=room)
    assert len(human.agents()) == 1


@pytest.mark.timeout(300)
async def test_a_dispatch_refused_for_capacity_is_healed_once_a_place_frees(
    platform: Platform,
    http: httpx.AsyncClient,
    store: PostgresStore,
    human_guard: list[Human],
) -> None:
    backend = platform.backend(**SLOW_PATH)
    spawner = platform.spawner(WORKER_MAX_SESSIONS="1")
    await healthy(http, platform.api, backend)
    await registered(spawner)
    agent = await store.create_agent(new_agent())
    busy = await open_call(http, platform.api, agent.id)
    human_guard.append(busy.human)

    async def spawners_full() -> bool:
        ready = (await http.get(f"{platform.api}/readyz")).json()
        return bool(ready["workers"]["spawner"] == {"alive": 1, "available": 0})

    await eventually(spawners_full, what="the backend to see the spawner full")
    full = await http.post(f"{platform.api}/api/agents/{agent.id}/spawn", headers=OPERATOR)
    assert full.status_code == 503, full.text
    assert full.json()["detail"] == "All agent workers are busy — try again in a moment"

    # A second spawner the backend still counts (it just died: its heartbeat has not expired)
    # lets the next spawn through; the server refuses its dispatch, the live spawner being full.
    just_died = replace(worker_beat(WorkerRole.SPAWNER, worker_id="AW_just_died"), max_sessions=1)
    await store.worker_heartbeat(just_died, ttl_s=60)
    refusals = platform.lk.log().count(REFUSED)
    room, human = await spawn_and_join(http, platform, agent.id, human_guard)
    await eventually(
        lambda: platform.lk.log().count(REFUSED) > refusals,
        what="livekit-server to refuse the dispatch",
        within=30,
    )
    assert not human.agents()

    # The first call ends: the place frees, and the refused room gets its agent.
    await close_room(http, platform.api, busy.room)
    await human.agent_attribute(STATE, "active", within=60)
    assert backend.events("reconciler_action", action="redispatched_dropped", room=room)
    assert len(human.agents()) == 1
