"""A call's life with real participants on a real server (issue 13, flow 5): the grace period is
driven by real humans leaving and rejoining, and its end deletes the room and closes the record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from shared.contracts.lifecycle import PREFIX
from shared.store.postgres import PostgresStore
from tests.e2e.support import (
    agent_state,
    eventually,
    room_exists,
    serving,
    spawn,
)
from tests.spawner.conftest import new_agent
from tests.support.human import Human
from tests.support.livekit_server import api_client, join_token
from tests.support.platform import Platform
from voxiectl.livekit_local import LiveKitServer

GRACE_S = "4"
STATE = f"{PREFIX}state"


async def test_grace_rejoin_and_expiry(
    platform: Platform,
    http: httpx.AsyncClient,
    store: PostgresStore,
    lk: LiveKitServer,
    database_url: str,
) -> None:
    await serving(platform, http, GRACE_PERIOD_S=GRACE_S)
    agent = await store.create_agent(new_agent())
    spawned = await spawn(http, platform.api, agent.id)
    room = spawned["room_name"]

    async with api_client(lk) as lkapi:
        human = await Human.join(spawned["livekit_url"], spawned["token"])
        first = await human.agent_attribute(STATE, "active", within=60)
        session_id = first.attributes[f"{PREFIX}session_id"]
        await human.leave()
        await eventually(lambda: agent_state(lkapi, room, "grace"), what="grace")

        human = await Human.join(spawned["livekit_url"], spawned["token"])
        again = await human.agent_attribute(STATE, "active")
        assert again.attributes[f"{PREFIX}session_id"] == session_id  # the same call goes on
        await human.leave()

        await eventually(
            lambda: room_exists(lkapi, room, expected=False), what="the room to be deleted"
        )
        deleted_seen_at = datetime.now(UTC)
    db = await asyncpg.connect(database_url)
    try:
        row = await eventually(
            lambda: db.fetchrow(
                "select * from call_sessions where id = $1 and status <> 'active'", session_id
            ),
            what="the session row to end",
        )
    finally:
        await db.close()
    assert row["end_reason"] == "grace_expired"
    # The call ended when the human left, not when the grace period ran out: the room is deleted
    # a whole grace period after the spawner saw the leave, so the recorded end comes before.
    assert row["ended_at"] <= deleted_seen_at - timedelta(seconds=float(GRACE_S))


async def test_one_of_two_humans_leaving_starts_no_grace(
    platform: Platform, http: httpx.AsyncClient, store: PostgresStore, lk: LiveKitServer
) -> None:
    spawner = await serving(platform, http, GRACE_PERIOD_S=GRACE_S)
    agent = await store.create_agent(new_agent())
    spawned = await spawn(http, platform.api, agent.id)
    room, url = spawned["room_name"], spawned["livekit_url"]
    alice = await Human.join(url, spawned["token"])
    bob = await Human.join(url, join_token(lk, room, "user:bob"))
    try:
        await alice.agent_attribute(STATE, "active", within=60)
        await bob.until(lambda: bob.agents(), what="bob to see the agent")
        # Bob leaves and comes back, then alice leaves: someone is there throughout until bob
        # leaves again. The agent sees these in the server's order, so once it shows grace for
        # that last leave, its log holds every state it went through: had a leave with a human
        # still there started the grace period, grace (and active again) would come before.
        # That no timer runs meanwhile is tests/spawner/test_lifecycle.py's, on a clock it moves.
        await bob.leave()
        await alice.until(lambda: not alice.others(), what="alice to see bob leave")
        bob = await Human.join(url, join_token(lk, room, "user:bob"))
        await alice.until(lambda: alice.others(), what="alice to see bob back")
        await alice.leave()
        await bob.until(lambda: not bob.others(), what="bob to see alice leave")
        await bob.leave()
        async with api_client(lk) as lkapi:
            await eventually(lambda: agent_state(lkapi, room, "grace"), what="grace")
        states = [event["state"] for event in spawner.events("lifecycle")]
        assert states == ["starting", "active", "grace"], states
    finally:
        await alice.leave()
        await bob.leave()
