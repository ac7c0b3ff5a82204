"""Live rooms as LiveKit holds them: kind, agent, humans, the agent's published lifecycle, age;
stats; the operator closing a room (and telling it why) and running a pass now."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
from livekit import api
from starlette.applications import Starlette

from backend.app import create_app
from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from shared.contracts.room_messages import PLATFORM_ROOM_CLOSED
from shared.naming import agent_room_name
from shared.store.postgres import PostgresStore
from tests.backend.conftest import (
    ALICE,
    BOB,
    OPERATOR,
    AgentFactory,
    RecordingRooms,
    as_user,
    backend_settings,
    serving,
)
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.rooms import AGENT
from voxiectl.livekit_local import free_port


async def publish(
    livekit_api: api.LiveKitAPI, room: str, identity: str, lifecycle: AgentLifecycle
) -> None:
    await livekit_api.room.update_participant(
        api.UpdateParticipantRequest(
            room=room, identity=identity, attributes=lifecycle.to_attributes()
        )
    )


async def test_rooms_show_who_is_there_and_the_agents_lifecycle(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    make_agent: AgentFactory,
) -> None:
    agent = await make_agent(ALICE)
    in_grace = (await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)).json()
    starting = (await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)).json()
    waiting = (await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)).json()
    creation = (await client.post("/api/voxie/sessions", headers=as_user(BOB))).json()
    await livekit_api.room.create_room(api.CreateRoomRequest(name="not-ours"))

    await livekit.join(in_grace["room_name"], "agent-1", kind=AGENT)
    ends = datetime.now(UTC) + timedelta(seconds=42)
    await publish(
        livekit_api,
        in_grace["room_name"],
        "agent-1",
        AgentLifecycle(state=LifecycleState.GRACE, agent_id=agent.id, grace_ends_at=ends),
    )
    await livekit.join(starting["room_name"], "agent-2", kind=AGENT)
    await livekit.join_with_token(starting["token"])
    await livekit.join_with_token(waiting["token"])
    await livekit.join_with_token(creation["token"])

    response = await client.get("/api/rooms", headers=OPERATOR)
    assert response.status_code == 200, response.text
    rooms = {room["name"]: room for room in response.json()["items"]}
    assert set(rooms) == {
        in_grace["room_name"],
        starting["room_name"],
        waiting["room_name"],
        creation["room_name"],
    }
    grace = rooms[in_grace["room_name"]]
    assert grace["state"] == "grace" and grace["agent_present"] and grace["humans"] == []
    # Named from the database in one read; Voxie's rooms have no agent to name.
    assert grace["agent_name"] == agent.name
    assert rooms[creation["room_name"]]["agent_name"] is None
    assert 30 < grace["grace_remaining_s"] <= 42 and grace["agent_id"] == str(agent.id)
    assert grace["kind"] == "agent" and grace["age_s"] >= 0
    assert rooms[starting["room_name"]]["state"] == "starting"
    assert rooms[starting["room_name"]]["humans"] == ["operator"]
    assert rooms[waiting["room_name"]]["state"] == "waiting_for_agent"
    assert rooms[creation["room_name"]]["kind"] == "creation"

    # Alice sees her agent's rooms; Bob sees the room he is in; neither sees the other's.
    alices = (await client.get("/api/rooms", headers=as_user(ALICE))).json()["items"]
    assert {r["name"] for r in alices} == {
        in_grace["room_name"],
        starting["room_name"],
        waiting["room_name"],
    }
    bobs = (await client.get("/api/rooms", headers=as_user(BOB))).json()["items"]
    assert [r["name"] for r in bobs] == [creation["room_name"]]

    stats = (await client.get("/api/stats", headers=OPERATOR)).json()
    assert stats["rooms"] == {"agent": 3, "creation": 1}
    assert stats["agents_running"] == 2 and stats["humans"] == 3
    assert stats["by_state"] == {"grace": 1, "starting": 1, "waiting_for_agent": 2}
    assert stats["capacity"]["available"] == stats["capacity"]["max_total_agents"] - 3
    assert "capacity" not in (await client.get("/api/stats", headers=as_user(BOB))).json()


async def test_the_operator_closes_a_room_telling_it_why(
    app: Starlette,
    client: httpx.AsyncClient,
    livekit_api: api.LiveKitAPI,
    make_agent: AgentFactory,
) -> None:
    services = app.state.services
    recording = RecordingRooms(services.livekit)
    services.livekit = services.reconciler.rooms = recording
    agent = await make_agent(ALICE)
    spawned = await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)
    room = spawned.json()["room_name"]

    path = f"/api/rooms/{room}/close"
    assert (await client.post(path, headers=as_user(ALICE))).status_code == 403
    response = await client.post(path, headers=OPERATOR)
    assert response.status_code == 200, response.text
    assert (await livekit_api.room.list_rooms(api.ListRoomsRequest())).rooms == []
    [(to, topic, payload)] = recording.sent
    assert (to, topic) == (room, PLATFORM_ROOM_CLOSED)
    assert json.loads(payload)["code"] == "closed_by_operator"

    assert (await client.post(path, headers=OPERATOR)).status_code == 404
    not_platform = await client.post("/api/rooms/lobby/close", headers=OPERATOR)
    assert not_platform.status_code == 404


async def test_gc_runs_a_pass_and_reports_what_it_did(
    client: httpx.AsyncClient, livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    room = "voxie-creation-twoagents"
    await livekit.join(room, "caller")
    await livekit.join(room, "agent-a", kind=AGENT)
    await livekit.join(room, "agent-b", kind=AGENT)
    response = await client.post("/api/gc", headers=OPERATOR)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rooms"] == 1
    assert [(a["action"], a["room"]) for a in report["actions"]] == [("removed_extra_agent", room)]
    listed = await livekit_api.room.list_participants(api.ListParticipantsRequest(room=room))
    assert sorted(p.identity for p in listed.participants) == ["agent-a", "caller"]


async def test_during_a_database_outage_the_rooms_are_still_listed_unnamed(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    room = agent_room_name(uuid4())
    await livekit_api.room.create_room(api.CreateRoomRequest(name=room))
    await livekit.join(room, "agent-1", kind=AGENT)
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/voxie"
    async with serving(create_app(backend_settings(livekit, down), reconcile=False)) as client:
        response = await client.get("/api/rooms", headers=OPERATOR)
        assert response.status_code == 200, response.text
        [listed] = response.json()["items"]
        assert listed["name"] == room and listed["agent_present"]
        assert listed["agent_name"] is None


async def test_the_caller_ends_their_call_the_room_closes_and_the_session_shows_ending(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    make_agent: AgentFactory,
    store: PostgresStore,
) -> None:
    """Issue 22, item 6: End call is one API call for both kinds of room, answered at once."""
    agent = await make_agent(ALICE)
    spawned = (await client.post(f"/api/agents/{agent.id}/spawn", headers=as_user(ALICE))).json()
    room = spawned["room_name"]
    await livekit.join_with_token(spawned["token"])
    await livekit.join(room, "agent-serving", kind=AGENT)
    [session] = (await store.list_sessions(room_name=room)).items

    # Not the caller's call (nor a platform room, nor a room at all): not found, nothing ends.
    for path, headers in (
        (f"/api/rooms/{room}/end", as_user(BOB)),
        ("/api/rooms/lobby-1/end", as_user(ALICE)),
        (f"/api/rooms/{agent_room_name(agent.id)}/end", as_user(ALICE)),
    ):
        refused = await client.post(path, headers=headers)
        assert refused.status_code == 404, (path, refused.text)
    assert (await store.get_session(session.id)).ending_at is None

    ended = await client.post(f"/api/rooms/{room}/end", headers=as_user(ALICE))
    assert ended.status_code == 200, ended.text
    assert ended.json() == {"room_name": room, "closed": True}
    rooms = await livekit_api.room.list_rooms(api.ListRoomsRequest())
    assert room not in {r.name for r in rooms.rooms}
    # Ending, not ended: the worker records how it ended once its last writes are done.
    marked = await store.get_session(session.id)
    assert marked.status == "active" and marked.ending_at is not None
    stats = (await client.get("/api/stats", headers=OPERATOR)).json()
    assert stats["capacity"]["agent_rooms"] == 0  # its place is free at once
    assert (await client.post(f"/api/rooms/{room}/end", headers=as_user(ALICE))).status_code == 404
