"""Jobs the workers refuse, on a real server, as a client in the room sees them: an agent the
spawner cannot run ends cleanly and tells the room (`spawner.error`) with a failed session row;
dispatch metadata the spawner cannot trust is refused for good; Voxie refuses sessions it cannot
own. In every case no agent joins.

Each room is created (with the backend's room metadata) and joined by the human before it is
dispatched, so the human is there when the worker answers.
"""

from __future__ import annotations

import functools
import json
import signal
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from livekit import api

from shared.contracts import CallSession, SessionStatus
from shared.contracts.room_messages import SPAWNER_ERROR
from shared.contracts.sessions import NO_AGENT
from shared.naming import WorkerRole, agent_room_name, voxie_room_name
from shared.store.postgres import PostgresStore
from tests.backend.conftest import JWT_SECRET, as_user, worker_beat
from tests.e2e.support import eventually, healthy, registered
from tests.spawner.conftest import dispatch_metadata, new_agent
from tests.support.human import Human
from tests.support.livekit_server import api_client, join_token
from tests.support.platform import OPERATOR, Platform
from tests.support.processes import ServiceProcess
from voxiectl.livekit_local import LiveKitServer

SPAWNER = "spawner-test"
VOXIE = "voxie-test"


async def _dispatched_with_human(
    lk: LiveKitServer, room: str, agent_name: str, metadata: str, room_metadata: str = ""
) -> Human:
    """The room as the backend creates it, the human in it, then the dispatch."""
    async with api_client(lk) as lkapi:
        # No agents on the room: the server would dispatch to unnamed workers, and ours are named.
        await lkapi.room.create_room(api.CreateRoomRequest(name=room, metadata=room_metadata))
        human = await Human.join(lk.url, join_token(lk, room, f"user:{uuid.uuid4()}"))
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room, metadata=metadata)
        )
    return human


async def _agent_room(
    lk: LiveKitServer, agent_id: UUID, metadata: str | None = None
) -> tuple[str, Human]:
    """An `agent-*` room of `agent_id` dispatched to the spawner, and the human in it."""
    room = agent_room_name(agent_id)
    human = await _dispatched_with_human(
        lk,
        room,
        SPAWNER,
        dispatch_metadata(agent_id) if metadata is None else metadata,
        json.dumps({"agent_id": str(agent_id)}),
    )
    return room, human


async def _ended_session(store: PostgresStore, room: str) -> CallSession | None:
    found = (await store.list_sessions(room_name=room)).items
    return found[0] if found and found[0].status is not SessionStatus.ACTIVE else None


def _told(human: Human) -> bool:
    return any(topic == SPAWNER_ERROR for topic, _ in human.data)


def _rejected(replicas: list[ServiceProcess], room: str) -> list[dict[str, Any]]:
    return [e for p in replicas for e in p.events("job_rejected", room=room)]


def _refused(voxie: ServiceProcess, room: str, why: str) -> list[dict[str, Any]]:
    return [
        e
        for e in voxie.events("job_refused", room=room)
        if why in f"{e.get('verdict')} {e.get('reason')}"
    ]


def _requests(processes: list[ServiceProcess], room: str) -> int:
    return sum(len(p.events("received job request", room=room)) for p in processes)


async def test_agents_the_spawner_cannot_run_end_cleanly_and_tell_the_room(
    platform: Platform, lk: LiveKitServer, store: PostgresStore, database_url: str
) -> None:
    spawner = platform.spawner()
    archived = await store.create_agent(new_agent())
    await store.archive_agent(archived.id)
    invalid = await store.create_agent(new_agent())
    # Written around the contracts (by hand, by an old version): the spawner never runs it.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """update agents set tools = '[{"type": "carrier_pigeon"}]' where id = $1""",
            invalid.id,
        )
    finally:
        await conn.close()
    # A draft is refused by the rule the backend applies too (shared `check_runnable`).
    draft = await store.create_agent(new_agent(status="draft"))
    # Dispatched with a version it does not have (published: 1 only).
    unversioned = await store.create_agent(new_agent())
    unknown = uuid.uuid4()
    cases = [
        (unknown, "agent_not_found", None),
        (archived.id, "agent_archived", archived.id),
        (draft.id, "agent_not_active", draft.id),
        (invalid.id, "invalid_config", invalid.id),
        (unversioned.id, "version_not_found", unversioned.id),
    ]
    metadata = {unversioned.id: dispatch_metadata(unversioned.id, version=7)}
    await registered(spawner)
    joined = [await _agent_room(lk, agent_id, metadata.get(agent_id)) for agent_id, _, _ in cases]
    try:
        for (room, human), (agent_id, code, stored_agent) in zip(joined, cases, strict=True):
            await human.until(functools.partial(_told, human), what=f"a spawner.error in {room}")
            [payload] = [data for topic, data in human.data if topic == SPAWNER_ERROR]
            message: dict[str, Any] = json.loads(payload)
            assert (message["code"], message["agent_id"]) == (code, str(agent_id))
            assert message["message"]  # words the dashboard shows
            session: CallSession = await eventually(
                functools.partial(_ended_session, store, room), what=f"the session of {room}"
            )
            assert (session.status, session.end_reason, session.agent_id) == (
                SessionStatus.FAILED,
                "error",
                stored_agent,
            )
            assert session.error is not None and session.error.startswith(code)
            # Accepted, refused at load, ended without ever connecting: nobody joined.
            assert spawner.events("job_accepted", room=room)
            assert spawner.events("agent_refused", room=room, code=code)
            assert not spawner.events("call_failed", room=room)
            assert not human.agents()
        # And the spawner keeps serving: a runnable agent's room gets its agent.
        good = await store.create_agent(new_agent())
        joined.append(await _agent_room(lk, good.id))
        await joined[-1][1].one_agent(within=60)
        for _, human in joined[:-1]:
            assert not human.agents()
    finally:
        for _, human in joined:
            await human.leave()
    assert "Traceback" not in spawner.output()


async def test_malformed_or_mismatched_dispatch_metadata_is_refused_for_good(
    platform: Platform, lk: LiveKitServer, store: PostgresStore
) -> None:
    """Two replicas: a refusal for good (terminate) ends the job, so no other replica is
    offered it."""
    replicas = [platform.spawner("spawner-a"), platform.spawner("spawner-b")]
    malformed = await store.create_agent(new_agent())
    mismatched = await store.create_agent(new_agent())
    cases = [
        (malformed.id, '{"agent_id": "nope"', "malformed_metadata"),
        # The dispatch names another agent than the room's name and metadata do.
        (mismatched.id, dispatch_metadata(uuid.uuid4()), "agent_mismatch"),
    ]
    await registered(*replicas)
    joined = [await _agent_room(lk, agent_id, metadata) for agent_id, metadata, _ in cases]
    try:
        for (room, _), (_, _, verdict) in zip(joined, cases, strict=True):
            [refused] = await eventually(
                functools.partial(_rejected, replicas, room), what=f"{room} refused"
            )
            assert (refused["verdict"], refused["terminate"]) == (verdict, True)
            assert _requests(replicas, room) == 1
            assert not any(p.events("job_accepted", room=room) for p in replicas)
            assert (await store.list_sessions(room_name=room)).items == []
        # A room dispatched after them gets its agent; theirs still have none, and the refused
        # jobs were never offered again.
        control = await store.create_agent(new_agent())
        joined.append(await _agent_room(lk, control.id))
        await joined[-1][1].one_agent(within=60)
        for room, human in joined[:-1]:
            assert not human.agents()
            assert _requests(replicas, room) == 1
    finally:
        for _, human in joined:
            await human.leave()


def _voxie_metadata(**values: Any) -> str:
    return json.dumps(
        {
            "agent_id": None,
            "deployment": "test",
            "kind": "creation",
            "requested_by": f"user:{uuid.uuid4()}",
            **values,
        }
    )


async def test_voxie_refuses_sessions_it_cannot_own_for_good(
    platform: Platform, lk: LiveKitServer, store: PostgresStore
) -> None:
    voxie = platform.voxie()
    cases = [
        ("lobby-" + uuid.uuid4().hex[:8], _voxie_metadata(), "wrong_room"),
        (voxie_room_name(), "", "missing_metadata"),
        (voxie_room_name(), "{not json", "malformed_metadata"),
        (
            voxie_room_name(),
            _voxie_metadata(requested_by="operator"),
            "Voxie builds agents for users only",
        ),
        (voxie_room_name(), _voxie_metadata(kind="test"), "runs creation sessions"),
        # A good one last: Voxie is up and joins, so the others' silence is a refusal.
        (voxie_room_name(), _voxie_metadata(), ""),
    ]
    await registered(voxie)
    humans = [
        await _dispatched_with_human(lk, room, VOXIE, metadata) for room, metadata, _ in cases
    ]
    try:
        await humans[-1].one_agent(within=60)
        for human, (room, _, why) in zip(humans[:-1], cases, strict=False):
            refusals = await eventually(
                functools.partial(_refused, voxie, room, why), what=f"{room} refused for {why}"
            )
            assert len(refusals) == 1
            assert _requests([voxie], room) == 1
            assert not voxie.events("job_accepted", room=room)
            assert (await store.list_sessions(room_name=room)).items == []
            assert not human.agents()
    finally:
        for human in humans:
            await human.leave()


async def test_failed_calls_are_their_owners_with_their_version_and_every_view_agrees(
    platform: Platform, http: httpx.AsyncClient, store: PostgresStore
) -> None:
    """Issue 22, item 4: with no model configured, a test call is refused; with no spawner at
    all, no agent ever takes one. Both are on the owner's Calls list and the agent's calls with
    the version they were made for, and the Agents list and the analytics count the same two."""
    backend = platform.backend(SUPABASE_JWT_SECRET=JWT_SECRET)
    spawner = platform.spawner(OPENAI_API_KEY="")
    owner = uuid.uuid4()
    agent = await store.create_agent(new_agent(owner_id=owner))  # active: version 1 published
    await healthy(http, platform.api, backend)
    await registered(spawner)

    async def call(then: Callable[[str], Awaitable[object]]) -> str:
        """A test call the owner makes from the dashboard, then what becomes of it."""
        spawned = await http.post(
            f"{platform.api}/api/agents/{agent.id}/spawn", headers=as_user(owner)
        )
        assert spawned.status_code == 201, spawned.text
        grant = spawned.json()
        human = await Human.join(grant["livekit_url"], grant["token"])
        try:
            await then(grant["room_name"])
        finally:
            await human.leave()
        return str(grant["room_name"])

    async def refused(room: str) -> None:
        await eventually(
            lambda: spawner.events("agent_refused", room=room, code="no_model_configured"),
            what="the spawner to refuse the call",
        )

    async def closed(room: str) -> None:  # nobody took it: the operator closes the room
        closing = await http.post(f"{platform.api}/api/rooms/{room}/close", headers=OPERATOR)
        assert closing.status_code == 200, closing.text

    refused_room = await call(refused)
    spawner.signal(signal.SIGTERM)
    spawner.stop()
    # A spawner that died with its heartbeat still fresh: the backend lets the next call through
    # (with none alive it would refuse it, 503, and make no room), and no agent ever takes it.
    await store.worker_heartbeat(worker_beat(WorkerRole.SPAWNER, worker_id="AW_died"), ttl_s=3600)
    unanswered_room = await call(closed)

    async def both_ended() -> list[dict[str, Any]]:
        listed = await http.get(f"{platform.api}/api/sessions", headers=as_user(owner))
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        return items if all(s["status"] != "active" for s in items) and len(items) == 2 else []

    sessions = {s["room_name"]: s for s in await eventually(both_ended, what="both calls ended")}
    for room, reason, error in (
        (refused_room, "error", "no_model_configured"),
        (unanswered_room, "lost", NO_AGENT),
    ):
        session = sessions[room]
        assert (session["status"], session["end_reason"]) == ("failed", reason), session
        assert error in session["error"]
        assert (session["owner_id"], session["agent_id"]) == (str(owner), str(agent.id))
        assert session["agent_version"] == 1, session
    assert sessions[refused_room]["job_id"] and sessions[unanswered_room]["job_id"] is None

    # The agent's calls, the Agents list and the analytics: the same two failed calls of v1.
    agents_calls = await http.get(
        f"{platform.api}/api/sessions", params={"agent_id": str(agent.id)}, headers=as_user(owner)
    )
    assert {s["room_name"] for s in agents_calls.json()["items"]} == set(sessions)
    [listed] = (await http.get(f"{platform.api}/api/agents", headers=as_user(owner))).json()[
        "items"
    ]
    assert listed["calls_7d"] == 2
    analytics = await http.get(
        f"{platform.api}/api/agents/{agent.id}/analytics", headers=as_user(owner)
    )
    assert analytics.status_code == 200, analytics.text
    figures = analytics.json()
    assert (figures["total"]["calls"], figures["total"]["errored"]) == (2, 2)
    assert [(g["version"], g["calls"]) for g in figures["groups"]] == [(1, 2)]
