"""The spawner fleet on a real server (issue 13, flows 6 and 7): a replica killed mid-call is
healed by the reconciler's re-dispatch to another replica; a replica told to stop drains — it
takes no new job and ends its live call at WORKER_DRAIN_TIMEOUT_S as `shutdown`.
"""

from __future__ import annotations

import signal

import asyncpg
import httpx
from livekit import rtc

from shared.contracts.lifecycle import PREFIX
from shared.store.postgres import PostgresStore
from tests.e2e.support import eventually, healthy, registered, room_exists, runner, spawn
from tests.spawner.conftest import new_agent
from tests.support.human import Human
from tests.support.livekit_server import api_client
from tests.support.platform import Platform
from voxiectl.livekit_local import LiveKitServer

STATE = f"{PREFIX}state"
GRACE_S = "3"


async def sessions(database_url: str, room: str) -> list[asyncpg.Record]:
    db = await asyncpg.connect(database_url)
    try:
        return list(
            await db.fetch(
                "select * from call_sessions where room_name = $1 order by started_at", room
            )
        )
    finally:
        await db.close()


async def test_a_killed_replica_is_healed_by_another(
    platform: Platform,
    http: httpx.AsyncClient,
    store: PostgresStore,
    lk: LiveKitServer,
    database_url: str,
) -> None:
    backend = platform.backend(
        GRACE_PERIOD_S=GRACE_S, GC_INTERVAL_S="1", AGENT_STARTUP_TIMEOUT_S="2"
    )
    replicas = [platform.spawner(f"spawner-{n}", GRACE_PERIOD_S=GRACE_S) for n in (1, 2)]
    await healthy(http, platform.api, backend)
    await registered(*replicas)
    agent = await store.create_agent(new_agent())
    spawned = await spawn(http, platform.api, agent.id)
    room = spawned["room_name"]

    human = await Human.join(spawned["livekit_url"], spawned["token"])
    try:
        first = await human.agent_attribute(STATE, "active", within=60)
        dead = runner(replicas, room)
        dead.kill()

        # The server drops the dead agent, the reconciler re-dispatches, the other replica joins.
        # The server may still list the dead agent for a while after the new one joined, so the
        # new agent is picked by its identity, not as "the active one".
        def newcomer() -> rtc.RemoteParticipant | None:
            return next(
                (
                    a
                    for a in human.agents()
                    if a.identity != first.identity and a.attributes.get(STATE) == "active"
                ),
                None,
            )

        await human.until(newcomer, what="a new active agent", within=90)
        second = newcomer()
        assert second is not None
        assert second.attributes[f"{PREFIX}session_id"] != first.attributes[f"{PREFIX}session_id"]
        [alive] = [p for p in replicas if p is not dead]
        assert alive.events("job_accepted", room=room)
        assert backend.events("reconciler_action", action="redispatched", room=room)

        # The dead call's record is closed as lost once the new agent names its own session.
        async def old_ended() -> asyncpg.Record | None:
            rows = await sessions(database_url, room)
            return rows[0] if rows[0]["status"] != "active" else None

        old = await eventually(old_ended, what="the dead call's session to end")
        assert old["end_reason"] == "lost"
        assert str(old["id"]) == first.attributes[f"{PREFIX}session_id"]
    finally:
        await human.leave()

    async with api_client(lk) as lkapi:
        await eventually(lambda: room_exists(lkapi, room, expected=False), what="room deleted")

    async def both_ended() -> list[asyncpg.Record] | None:
        rows = await sessions(database_url, room)
        return rows if all(r["status"] != "active" for r in rows) else None

    _, new = await eventually(both_ended, what="both sessions to end")
    assert str(new["id"]) == second.attributes[f"{PREFIX}session_id"]
    assert new["end_reason"] == "grace_expired"


async def test_a_draining_replica_takes_no_new_job_and_ends_its_call_as_shutdown(
    platform: Platform, http: httpx.AsyncClient, store: PostgresStore, database_url: str
) -> None:
    backend = platform.backend()
    replicas = [platform.spawner(f"spawner-{n}", WORKER_DRAIN_TIMEOUT_S="6") for n in (1, 2)]
    await healthy(http, platform.api, backend)
    await registered(*replicas)
    agent = await store.create_agent(new_agent())
    spawned = await spawn(http, platform.api, agent.id)
    human = await Human.join(spawned["livekit_url"], spawned["token"])
    try:
        await human.agent_attribute(STATE, "active", within=60)
        draining = runner(replicas, spawned["room_name"])
        [other] = [p for p in replicas if p is not draining]
        draining.signal(signal.SIGTERM)
        await eventually(lambda: draining.events("draining worker"), what="the drain to start")

        later = await spawn(http, platform.api, agent.id)
        late_human = await Human.join(later["livekit_url"], later["token"])
        try:
            await late_human.agent_attribute(STATE, "active", within=60)
        finally:
            await late_human.leave()
        assert runner(replicas, later["room_name"]) is other

        await eventually(lambda: draining.returncode is not None, what="the drained exit")
        [row] = await sessions(database_url, spawned["room_name"])
        assert row["status"] == "ended"
        assert row["end_reason"] == "shutdown"
        # The call ended itself at the drain deadline; livekit-agents did not have to cancel it
        # (which it does only 15 s after the drain timeout).
        assert draining.events("worker_draining", room=spawned["room_name"])
        assert not draining.events("entrypoint did not exit in time, cancelling")
        await human.until(lambda: not human.agents(), what="the agent to leave")
    finally:
        await human.leave()
