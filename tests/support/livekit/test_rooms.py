"""Rooms and participants in the double: joins, tokens, counts and the room timeouts."""

from __future__ import annotations

import datetime

import pytest
from livekit import api

from tests.support.livekit import LiveKitDouble, RoomConfig
from tests.support.livekit.conftest import Connect
from tests.support.livekit.errors import JoinRefused
from tests.support.livekit.rooms import EGRESS, SIP

pytestmark = pytest.mark.timeout(60)


async def room_names(client: api.LiveKitAPI) -> list[str]:
    return sorted(r.name for r in (await client.room.list_rooms(api.ListRoomsRequest())).rooms)


async def the_room(client: api.LiveKitAPI, name: str) -> api.Room:
    [room] = (await client.room.list_rooms(api.ListRoomsRequest(names=[name]))).rooms
    return room


# --- joining -------------------------------------------------------------------------------


async def test_join_creates_the_room_and_counts_humans(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    joined = await livekit.join("lobby", "caller-1", name="Ada", attributes={"k": "v"})
    assert joined.identity == "caller-1" and joined.sid.startswith("PA_")
    await livekit.join("lobby", "caller-2")
    room = await the_room(livekit_api, "lobby")
    assert room.num_participants == 2
    assert room.empty_timeout == 300  # auto-created with the server defaults
    await livekit.leave("lobby", "caller-2")
    assert (await the_room(livekit_api, "lobby")).num_participants == 1


async def test_kinds_count_as_the_server_counts_them(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    phone = await livekit.join("lobby", "sip-caller", kind=SIP)
    assert phone.kind == api.ParticipantInfo.Kind.SIP
    await livekit.join("lobby", "recorder", kind=EGRESS)
    # A phone caller is a human; a recorder, like an agent, is not counted.
    assert (await the_room(livekit_api, "lobby")).num_participants == 1
    await livekit.leave("lobby", "sip-caller")
    await livekit.advance(20)
    assert await room_names(livekit_api) == []  # the recorder did not keep it open


async def test_the_same_identity_replaces_the_earlier_connection(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    first = await livekit.join("lobby", "caller")
    second = await livekit.join("lobby", "caller")
    listed = await livekit_api.room.list_participants(api.ListParticipantsRequest(room="lobby"))
    assert [p.sid for p in listed.participants] == [second.sid]
    assert first.sid != second.sid


async def test_max_participants_refuses_one_more_human(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    await livekit_api.room.create_room(api.CreateRoomRequest(name="small", max_participants=1))
    await livekit.join("small", "caller-1")
    with pytest.raises(JoinRefused, match="full"):
        await livekit.join("small", "caller-2")


async def test_join_with_token_admits_only_what_the_token_grants(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    joined = await livekit.join_with_token(livekit.token("user-1", "agent-room"))
    assert joined.identity == "user-1"
    listed = await livekit_api.room.list_participants(
        api.ListParticipantsRequest(room="agent-room")
    )
    assert [p.identity for p in listed.participants] == ["user-1"]

    expired = (
        api.AccessToken(livekit.api_key, livekit.api_secret)
        .with_identity("user-2")
        .with_grants(api.VideoGrants(room_join=True, room="agent-room"))
        .with_ttl(datetime.timedelta(minutes=-5))
        .to_jwt()
    )
    with pytest.raises(JoinRefused, match="invalid token"):
        await livekit.join_with_token(expired)

    forged = (
        api.AccessToken(livekit.api_key, "another-secret-of-sufficient-length!!")
        .with_identity("user-3")
        .with_grants(api.VideoGrants(room_join=True, room="agent-room"))
        .to_jwt()
    )
    with pytest.raises(JoinRefused, match="invalid token"):
        await livekit.join_with_token(forged)

    admin_only = (
        api.AccessToken(livekit.api_key, livekit.api_secret)
        .with_identity("user-4")
        .with_grants(api.VideoGrants(room_admin=True, room="agent-room"))
        .to_jwt()
    )
    with pytest.raises(JoinRefused, match="roomJoin"):
        await livekit.join_with_token(admin_only)


async def test_a_token_room_config_dispatches_only_when_it_creates_the_room(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    worker = await connect("voxie-test")
    config = api.RoomConfiguration(
        agents=[api.RoomAgentDispatch(agent_name="voxie-test", metadata="{}")]
    )

    def token_for(identity: str) -> str:
        return (
            api.AccessToken(livekit.api_key, livekit.api_secret)
            .with_identity(identity)
            .with_grants(api.VideoGrants(room_join=True, room="voxie-creation-abc12345"))
            .with_room_config(config)
            .to_jwt()
        )

    await livekit.join_with_token(token_for("user-1"))
    assert (await worker.offer()).room.name == "voxie-creation-abc12345"
    await livekit.join_with_token(token_for("user-2"))  # the room exists: ignored
    assert await worker.nothing_within(0.3)
    assert len(await livekit_api.agent_dispatch.list_dispatch("voxie-creation-abc12345")) == 1


# --- timeouts ------------------------------------------------------------------------------


async def test_empty_timeout_closes_a_room_nobody_joined(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    await livekit_api.room.create_room(api.CreateRoomRequest(name="unused", empty_timeout=60))
    await livekit.advance(59)
    assert await room_names(livekit_api) == ["unused"]
    await livekit.advance(1)
    assert await room_names(livekit_api) == []


async def test_departure_timeout_runs_from_the_last_human_leaving(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    await livekit_api.room.create_room(
        api.CreateRoomRequest(name="call", empty_timeout=30, departure_timeout=90)
    )
    await livekit.join("call", "caller")
    await livekit.advance(600)  # someone is in: no timeout applies
    assert await room_names(livekit_api) == ["call"]

    await livekit.leave("call", "caller")
    await livekit.advance(60)
    await livekit.join("call", "caller")  # back within the departure timeout
    await livekit.leave("call", "caller")
    await livekit.advance(89)
    assert await room_names(livekit_api) == ["call"]
    await livekit.advance(1)
    assert await room_names(livekit_api) == []


async def test_an_agent_alone_does_not_keep_the_room_open(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    worker = await connect("spawner-test")
    await livekit_api.room.create_room(
        api.CreateRoomRequest(
            name="agent-call",
            departure_timeout=60,
            agents=[api.RoomAgentDispatch(agent_name="spawner-test")],
        )
    )
    assignment = await worker.accept(await worker.offer(), identity="agent-voice")
    await livekit.join("agent-call", "caller")
    await livekit.leave("agent-call", "caller")
    await livekit.advance(60)
    assert await room_names(livekit_api) == []
    # Closing the room took the agent out, and the server told its worker.
    termination = (await worker.receive("termination")).termination
    assert termination.job_id == assignment.job.id


async def test_rooms_also_time_out_in_real_time(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    await livekit_api.room.create_room(api.CreateRoomRequest(name="brief", empty_timeout=1))

    async def closed() -> bool:
        return await room_names(livekit_api) == []

    await livekit.wait_for(closed, within=5, what="the 1 s empty timeout")


async def test_advance_moves_creation_times_forward(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    first = await livekit.create_room("first")
    await livekit.advance(3600)
    second = await livekit_api.room.create_room(api.CreateRoomRequest(name="second"))
    assert second.creation_time - first.creation_time >= 3600
    with pytest.raises(ValueError, match="forward"):
        await livekit.advance(-1)


async def test_create_room_from_the_test_side_takes_a_config(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    await livekit.create_room("configured", RoomConfig(empty_timeout=5, metadata="m"))
    room = await the_room(livekit_api, "configured")
    assert (room.empty_timeout, room.metadata) == (5, "m")
