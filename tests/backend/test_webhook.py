"""LiveKit's webhooks, signed by the double exactly as the server signs them, into a served
backend: room_finished closes session rows; unsigned or tampered deliveries change nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from livekit import api
from livekit.protocol import models, webhook

from backend.app import create_app
from shared.contracts import CallSession, EndReason, NewCallSession, SessionStatus
from shared.contracts.sessions import NO_AGENT
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, OPERATOR, AgentFactory, as_user, backend_settings
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.rooms import AGENT
from tests.support.livekit.webhooks import (
    WEBHOOK_CONTENT_TYPE,
    encode_event,
    sign_body,
    signed_headers,
)
from tests.support.serving import ThreadedServer

pytestmark = pytest.mark.timeout(60)
HOOK = "/api/livekit/webhook"
AS_LIVEKIT_SENDS = {"Content-Type": WEBHOOK_CONTENT_TYPE}


@pytest.fixture
def served_settings(livekit: LiveKitDouble, database_url: str) -> Settings:
    # A long interval: any pass after the first one at start was woken by a webhook.
    return backend_settings(livekit, database_url, gc_interval_s=3600)


@pytest.fixture
def backend_url(served_settings: Settings) -> Iterator[str]:
    server = ThreadedServer(create_app(served_settings), name="backend")
    yield server.start()
    server.stop()


@pytest.fixture
async def http(backend_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backend_url) as client:
        yield client


async def passes_done(http: httpx.AsyncClient) -> float:
    text = (await http.get("/metrics", headers=OPERATOR)).text
    match = re.search(r'voxie_backend_reconciler_passes_total\{outcome="done"\} (\S+)', text)
    return float(match[1]) if match else 0.0


async def test_room_finished_closes_open_sessions_and_agent_departures_wake_the_reconciler(
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    http: httpx.AsyncClient,
    backend_url: str,
    store: PostgresStore,
    make_agent: AgentFactory,
) -> None:
    await livekit.add_webhook(backend_url + HOOK)
    agent = await make_agent(ALICE)
    await livekit.wait_for(lambda: passes_done(http), what="the first reconciler pass")
    spawned = await http.post(f"/api/agents/{agent.id}/spawn", headers=as_user(ALICE))
    room = spawned.json()["room_name"]
    # The row the backend opened with the room, which no job takes, and one a job took.
    [unanswered] = (await store.list_sessions(room_name=room)).items
    session = await store.start_session(
        NewCallSession(
            agent_id=agent.id, room_name=room, kind="test", deployment="test", job_id="AJ_took"
        )
    )

    await livekit.join(room, "agent-late", kind=AGENT)
    await livekit.leave(room, "agent-late")  # an agent left: look now, not in an hour

    async def woken() -> bool:
        return await passes_done(http) >= 2

    await livekit.wait_for(woken, what="a reconciler pass woken by the webhook")

    # The agent was the last one in the room, so the backend may already have deleted it as
    # deserted (either way the room ends once, and room_finished comes once).
    try:
        await livekit_api.room.delete_room(api.DeleteRoomRequest(room=room))
    except api.TwirpError as exc:
        if exc.status != 404:
            raise
    await livekit.settle()

    async def finalised() -> bool:
        return (await store.get_session(session.id)).status is not SessionStatus.ACTIVE

    await livekit.wait_for(finalised, what="the session to be finalised")
    closed = await store.get_session(session.id)
    assert closed.end_reason is EndReason.ROOM_CLOSED and closed.status is SessionStatus.ENDED
    # No agent ever took the other: a failed call, saying so, still its owner's with its version.
    failed = await store.get_session(unanswered.id)
    assert (failed.end_reason, failed.status) == (EndReason.LOST, SessionStatus.FAILED)
    assert failed.error == NO_AGENT
    assert (failed.owner_id, failed.agent_version) == (ALICE, 1)
    metrics = (await http.get("/metrics", headers=OPERATOR)).text
    assert 'voxie_backend_webhooks_total{event="room_finished"} 1.0' in metrics


def finished_event(room: str) -> str:
    event = webhook.WebhookEvent(event="room_finished", id=f"EV_{uuid4().hex[:12]}")
    event.room.CopyFrom(models.Room(name=room, sid="RM_test"))
    return encode_event(event)


@pytest.fixture
async def open_session(store: PostgresStore, make_agent: AgentFactory) -> tuple[str, str]:
    agent = await make_agent(ALICE)
    room = f"agent-{agent.id}-hooked001"
    session = await store.start_session(  # a call a worker's job took
        NewCallSession(
            agent_id=agent.id, room_name=room, kind="test", deployment="test", job_id="AJ_took"
        )
    )
    return room, str(session.id)


async def test_unsigned_or_tampered_webhooks_are_401_and_change_nothing(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    store: PostgresStore,
    open_session: tuple[str, str],
) -> None:
    room, session_id = open_session
    body = finished_event(room)
    other = finished_event(f"agent-{uuid4()}-elsewhere")
    good = sign_body(body, livekit.api_key, livekit.api_secret)
    cases = {
        "unsigned": {},
        "garbage": {"Authorization": "not-a-jwt"},
        "signed for another body": {
            "Authorization": sign_body(other, livekit.api_key, livekit.api_secret)
        },
        "wrong secret": {"Authorization": sign_body(body, livekit.api_key, "x" * 32)},
        "wrong key": {"Authorization": sign_body(body, "APIother", livekit.api_secret)},
        "token without hash": {
            "Authorization": api.AccessToken(livekit.api_key, livekit.api_secret).to_jwt()
        },
    }
    for label, headers in cases.items():
        response = await client.post(HOOK, content=body, headers={**AS_LIVEKIT_SENDS, **headers})
        assert response.status_code == 401, label
    signed = {**AS_LIVEKIT_SENDS, "Authorization": good}
    tampered = body.replace("hooked001", "hooked002")
    assert (await client.post(HOOK, content=tampered, headers=signed)).status_code == 401
    assert (await store.get_session(session_id)).status is SessionStatus.ACTIVE

    accepted = await client.post(HOOK, content=body, headers=signed)
    assert accepted.status_code == 200, accepted.text
    assert (await store.get_session(session_id)).end_reason is EndReason.ROOM_CLOSED


async def test_a_signed_body_that_is_not_an_event_is_400(
    client: httpx.AsyncClient, livekit: LiveKitDouble
) -> None:
    body = '{"event": 5, "room": "not an object"}'
    response = await client.post(
        HOOK,
        content=body,
        headers=signed_headers(body, livekit.api_key, livekit.api_secret),
    )
    assert response.status_code == 400


async def test_an_oversized_webhook_is_413(client: httpx.AsyncClient, settings: Settings) -> None:
    body = "x" * (settings.backend_max_body_bytes + 1)
    assert (await client.post(HOOK, content=body, headers=AS_LIVEKIT_SENDS)).status_code == 413


async def test_a_replayed_webhook_leaves_the_same_state(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    store: PostgresStore,
    database_url: str,
    make_agent: AgentFactory,
) -> None:
    agent = await make_agent(ALICE)
    rooms = []
    for _ in range(2):  # two live agent rooms, each holding a slot
        spawned = await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)
        assert spawned.status_code == 201, spawned.text
        rooms.append(spawned.json()["room_name"])
    session = await store.start_session(  # a call a worker's job took
        NewCallSession(
            agent_id=agent.id,
            room_name=rooms[0],
            kind="test",
            deployment="test",
            job_id="AJ_took",
        )
    )

    async def state() -> tuple[CallSession, list[dict[str, Any]]]:
        conn = await asyncpg.connect(database_url)
        try:
            slots = await conn.fetch("select * from public.agent_slots order by room_name")
        finally:
            await conn.close()
        return await store.get_session(session.id), [dict(r) for r in slots]

    await livekit_api.room.delete_room(api.DeleteRoomRequest(room=rooms[0]))
    body = finished_event(rooms[0])
    signed = signed_headers(body, livekit.api_key, livekit.api_secret)
    assert (await client.post(HOOK, content=body, headers=signed)).status_code == 200
    once = await state()
    assert once[0].status is SessionStatus.ENDED
    assert [slot["room_name"] for slot in once[1]] == [rooms[1]]
    for _ in range(3):  # the same signed delivery again: accepted, and nothing changes
        assert (await client.post(HOOK, content=body, headers=signed)).status_code == 200
        assert await state() == once


def left_event(room: str, identity: str, kind: int = models.ParticipantInfo.Kind.STANDARD) -> str:
    event = webhook.WebhookEvent(event="participant_left", id=f"EV_{uuid4().hex[:12]}")
    event.room.CopyFrom(models.Room(name=room, sid="RM_test"))
    event.participant.CopyFrom(models.ParticipantInfo(identity=identity, kind=kind))  # type: ignore[arg-type]
    return encode_event(event)


async def test_the_last_one_leaving_deletes_the_room_and_frees_its_place(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    database_url: str,
    make_agent: AgentFactory,
) -> None:
    """Issue 22, item 8: a room nobody is left in (a refused call, a caller who gave up on an
    agent, a Voxie session after both left) is gone at once with its place, not ~1.5 min later;
    a room whose agent stays for its grace period is not touched."""
    agent = await make_agent(ALICE)
    served, refused = [
        (await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)).json()["room_name"]
        for _ in range(2)
    ]
    caller = f"user:{ALICE}"
    for room in (served, refused):
        await livekit.join(room, caller)
    await livekit.join(served, "agent-serving", kind=AGENT)

    async def left(
        room: str, identity: str, kind: int = models.ParticipantInfo.Kind.STANDARD
    ) -> None:
        await livekit.leave(room, identity)
        body = left_event(room, identity, kind)
        signed = signed_headers(body, livekit.api_key, livekit.api_secret)
        for _ in range(2):  # delivered twice: the same as once
            assert (await client.post(HOOK, content=body, headers=signed)).status_code == 200

    async def live() -> set[str]:
        rooms = await livekit_api.room.list_rooms(api.ListRoomsRequest())
        return {room.name for room in rooms.rooms}

    async def places() -> set[str]:
        conn = await asyncpg.connect(database_url)
        try:
            return {r["room_name"] for r in await conn.fetch("select room_name from agent_slots")}
        finally:
            await conn.close()

    # The caller of the refused call leaves (the agent had already gone): gone, place freed.
    await left(refused, caller)
    # The served caller leaves: the agent stays for its grace period, so does the room.
    await left(served, caller)
    assert await live() == {served} and await places() == {served}
    # The agent leaves at the end of its grace: now nobody is left.
    await left(served, "agent-serving", models.ParticipantInfo.Kind.AGENT)
    assert await live() == set() and await places() == set()
