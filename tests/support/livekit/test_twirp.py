"""The double's Twirp API, driven by the real livekit-api client."""

from __future__ import annotations

import datetime
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from livekit import api

from tests.support.livekit import LiveKitDouble

pytestmark = pytest.mark.timeout(60)

Call = Callable[[api.LiveKitAPI], Awaitable[object]]


def signed(
    livekit: LiveKitDouble,
    grants: api.VideoGrants,
    *,
    secret: str | None = None,
    key: str | None = None,
    ttl: datetime.timedelta = datetime.timedelta(minutes=5),
) -> str:
    return (
        api.AccessToken(key or livekit.api_key, secret or livekit.api_secret)
        .with_identity("backend")
        .with_grants(grants)
        .with_ttl(ttl)
        .to_jwt()
    )


@pytest.fixture
async def room(livekit_api: api.LiveKitAPI) -> api.Room:
    return await livekit_api.room.create_room(
        api.CreateRoomRequest(name="room-a", metadata='{"agent_id": "x"}')
    )


async def expect_error(call: Awaitable[object], code: str, status: int) -> api.TwirpError:
    with pytest.raises(api.TwirpError) as caught:
        await call
    assert (caught.value.code, caught.value.status) == (code, status), caught.value
    return caught.value


# --- RoomService ---------------------------------------------------------------------------


async def test_create_room_carries_what_was_asked(livekit_api: api.LiveKitAPI) -> None:
    before = int(time.time())
    created = await livekit_api.room.create_room(
        api.CreateRoomRequest(
            name="room-a",
            metadata='{"agent_id": "x"}',
            empty_timeout=120,
            departure_timeout=90,
            max_participants=3,
        )
    )
    assert created.sid.startswith("RM_")
    assert created.name == "room-a"
    assert created.metadata == '{"agent_id": "x"}'
    assert (created.empty_timeout, created.departure_timeout) == (120, 90)
    assert created.max_participants == 3
    assert before <= created.creation_time <= int(time.time())
    assert created.creation_time_ms // 1000 == created.creation_time
    assert created.num_participants == 0


async def test_create_room_defaults_are_the_servers(livekit_api: api.LiveKitAPI) -> None:
    created = await livekit_api.room.create_room(api.CreateRoomRequest(name="room-b"))
    assert (created.empty_timeout, created.departure_timeout) == (300, 20)


async def test_create_room_again_returns_the_live_room_unchanged(
    livekit_api: api.LiveKitAPI, room: api.Room
) -> None:
    again = await livekit_api.room.create_room(
        api.CreateRoomRequest(name="room-a", metadata="other", empty_timeout=5)
    )
    assert (again.sid, again.metadata, again.empty_timeout) == (room.sid, room.metadata, 300)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (api.CreateRoomRequest(name="r" * 257), "room name length exceeds limits"),
        (api.CreateRoomRequest(name="big", metadata="m" * 64001), "metadata size exceeds"),
    ],
    ids=["name-too-long", "metadata-too-large"],
)
async def test_create_room_refuses_invalid_arguments(
    livekit_api: api.LiveKitAPI, request_: api.CreateRoomRequest, message: str
) -> None:
    error = await expect_error(livekit_api.room.create_room(request_), "invalid_argument", 400)
    assert message in error.message
    assert (await livekit_api.room.list_rooms(api.ListRoomsRequest())).rooms == []


async def test_list_rooms_all_and_by_name(livekit_api: api.LiveKitAPI) -> None:
    for name in ("one", "two", "three"):
        await livekit_api.room.create_room(api.CreateRoomRequest(name=name))
    every = await livekit_api.room.list_rooms(api.ListRoomsRequest())
    assert sorted(r.name for r in every.rooms) == ["one", "three", "two"]
    some = await livekit_api.room.list_rooms(api.ListRoomsRequest(names=["two", "nope"]))
    assert [r.name for r in some.rooms] == ["two"]


async def test_delete_room(livekit_api: api.LiveKitAPI, room: api.Room) -> None:
    await livekit_api.room.delete_room(api.DeleteRoomRequest(room=room.name))
    assert (await livekit_api.room.list_rooms(api.ListRoomsRequest())).rooms == []
    await expect_error(
        livekit_api.room.delete_room(api.DeleteRoomRequest(room=room.name)), "not_found", 404
    )


async def test_participants_list_get_update_remove(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, room: api.Room
) -> None:
    await livekit.join(room.name, "caller-1", name="Ada", metadata="m1")
    await livekit.join(room.name, "caller-2")

    listed = await livekit_api.room.list_participants(api.ListParticipantsRequest(room=room.name))
    assert sorted(p.identity for p in listed.participants) == ["caller-1", "caller-2"]

    one = await livekit_api.room.get_participant(
        api.RoomParticipantIdentity(room=room.name, identity="caller-1")
    )
    assert (one.name, one.metadata, one.kind) == ("Ada", "m1", api.ParticipantInfo.Kind.STANDARD)
    assert one.sid.startswith("PA_")
    assert one.state == api.ParticipantInfo.State.ACTIVE

    updated = await livekit_api.room.update_participant(
        api.UpdateParticipantRequest(
            room=room.name, identity="caller-1", metadata="m2", attributes={"lk.state": "x"}
        )
    )
    assert (updated.metadata, dict(updated.attributes)) == ("m2", {"lk.state": "x"})

    await livekit_api.room.remove_participant(
        api.RoomParticipantIdentity(room=room.name, identity="caller-2")
    )
    after = await livekit_api.room.list_participants(api.ListParticipantsRequest(room=room.name))
    assert [p.identity for p in after.participants] == ["caller-1"]
    rooms = await livekit_api.room.list_rooms(api.ListRoomsRequest(names=[room.name]))
    assert rooms.rooms[0].num_participants == 1


async def test_participant_errors(livekit_api: api.LiveKitAPI, room: api.Room) -> None:
    missing = api.RoomParticipantIdentity(room=room.name, identity="ghost")
    error = await expect_error(livekit_api.room.get_participant(missing), "not_found", 404)
    assert error.message == "participant does not exist"
    error = await expect_error(livekit_api.room.remove_participant(missing), "not_found", 404)
    assert error.message == "participant not found"
    await expect_error(
        livekit_api.room.update_participant(
            api.UpdateParticipantRequest(room=room.name, identity="ghost", metadata="x")
        ),
        "not_found",
        404,
    )
    # A room that does not exist has nobody in it: no error (the server's local store).
    empty = await livekit_api.room.list_participants(api.ListParticipantsRequest(room="nope"))
    assert list(empty.participants) == []


async def test_update_room_metadata(livekit_api: api.LiveKitAPI, room: api.Room) -> None:
    updated = await livekit_api.room.update_room_metadata(
        api.UpdateRoomMetadataRequest(room=room.name, metadata='{"agent_id": "y"}')
    )
    assert updated.metadata == '{"agent_id": "y"}'
    listed = await livekit_api.room.list_rooms(api.ListRoomsRequest(names=[room.name]))
    assert listed.rooms[0].metadata == '{"agent_id": "y"}'
    error = await expect_error(
        livekit_api.room.update_room_metadata(
            api.UpdateRoomMetadataRequest(room="nope", metadata="x")
        ),
        "not_found",
        404,
    )
    assert error.message == "requested room does not exist"


async def test_send_data_reaches_the_room(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, room: api.Room
) -> None:
    await livekit_api.room.send_data(
        api.SendDataRequest(room=room.name, data=b'{"reason": "x"}', topic="spawner.error")
    )
    assert await livekit.data_packets(room.name) == [("spawner.error", b'{"reason": "x"}')]


# --- AgentDispatchService ------------------------------------------------------------------


async def test_dispatch_create_list_get_delete(livekit_api: api.LiveKitAPI, room: api.Room) -> None:
    created = await livekit_api.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(agent_name="spawner-test", room=room.name, metadata="{}")
    )
    assert created.id.startswith("AD_")
    assert (created.agent_name, created.room, created.metadata) == (
        "spawner-test",
        room.name,
        "{}",
    )
    assert created.state.created_at > 0

    listed = await livekit_api.agent_dispatch.list_dispatch(room.name)
    # The room was created with no agents, so it also has the automatic (unnamed) dispatch.
    assert sorted(d.agent_name for d in listed) == ["", "spawner-test"]
    got = await livekit_api.agent_dispatch.get_dispatch(created.id, room.name)
    assert got is not None and got.id == created.id

    deleted = await livekit_api.agent_dispatch.delete_dispatch(created.id, room.name)
    assert deleted.id == created.id
    assert await livekit_api.agent_dispatch.get_dispatch(created.id, room.name) is None


async def test_dispatch_errors(livekit_api: api.LiveKitAPI, room: api.Room) -> None:
    error = await expect_error(
        livekit_api.agent_dispatch.delete_dispatch("AD_missing", room.name), "not_found", 404
    )
    assert error.message == "dispatch ID not found"
    await expect_error(livekit_api.agent_dispatch.list_dispatch("nope"), "not_found", 404)


# --- auth ----------------------------------------------------------------------------------

MISSING_GRANT_CASES: list[tuple[str, api.VideoGrants, Call]] = [
    (
        "create-needs-roomCreate",
        api.VideoGrants(room_list=True, room_admin=True, room="room-a"),
        lambda c: c.room.create_room(api.CreateRoomRequest(name="x")),
    ),
    (
        "delete-needs-roomCreate",
        api.VideoGrants(room_admin=True, room="room-a"),
        lambda c: c.room.delete_room(api.DeleteRoomRequest(room="room-a")),
    ),
    (
        "list-needs-roomList",
        api.VideoGrants(room_create=True),
        lambda c: c.room.list_rooms(api.ListRoomsRequest()),
    ),
    (
        "participants-need-roomAdmin",
        api.VideoGrants(room_create=True, room_list=True, room="room-a"),
        lambda c: c.room.list_participants(api.ListParticipantsRequest(room="room-a")),
    ),
    (
        "roomAdmin-is-per-room",
        api.VideoGrants(room_admin=True, room="other-room"),
        lambda c: c.room.update_room_metadata(
            api.UpdateRoomMetadataRequest(room="room-a", metadata="x")
        ),
    ),
    (
        "dispatch-needs-roomAdmin",
        api.VideoGrants(room_create=True, room_list=True),
        lambda c: c.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name="a", room="room-a")
        ),
    ),
    (
        "a-join-token-is-not-admin",
        api.VideoGrants(room_join=True, room="room-a"),
        lambda c: c.room.remove_participant(
            api.RoomParticipantIdentity(room="room-a", identity="x")
        ),
    ),
]


@pytest.fixture
async def with_token(livekit: LiveKitDouble) -> AsyncIterator[Callable[[str], api.LiveKitAPI]]:
    clients: list[api.LiveKitAPI] = []

    def make(token: str) -> api.LiveKitAPI:
        client = api.LiveKitAPI.with_token(token, livekit.url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.mark.parametrize(
    ("grants", "call"),
    [case[1:] for case in MISSING_GRANT_CASES],
    ids=[case[0] for case in MISSING_GRANT_CASES],
)
async def test_a_token_without_the_grant_is_refused(
    livekit: LiveKitDouble,
    room: api.Room,
    with_token: Callable[[str], api.LiveKitAPI],
    grants: api.VideoGrants,
    call: Call,
) -> None:
    error = await expect_error(call(with_token(signed(livekit, grants))), "unauthenticated", 401)
    assert error.message == "permissions denied"


async def test_the_right_grant_is_enough(
    livekit: LiveKitDouble, room: api.Room, with_token: Callable[[str], api.LiveKitAPI]
) -> None:
    admin = with_token(signed(livekit, api.VideoGrants(room_admin=True, room=room.name)))
    await admin.room.update_room_metadata(
        api.UpdateRoomMetadataRequest(room=room.name, metadata="ok")
    )
    lister = with_token(signed(livekit, api.VideoGrants(room_list=True)))
    assert [r.name for r in (await lister.room.list_rooms(api.ListRoomsRequest())).rooms] == [
        room.name
    ]


@pytest.mark.parametrize(
    "token_of",
    [
        lambda lk: signed(lk, api.VideoGrants(room_list=True), secret="x" * 40),
        lambda lk: signed(lk, api.VideoGrants(room_list=True), key="APIunknown"),
        lambda lk: signed(lk, api.VideoGrants(room_list=True), ttl=datetime.timedelta(minutes=-5)),
        lambda _: "not-a-jwt",
    ],
    ids=["wrong-secret", "unknown-key", "expired", "garbage"],
)
async def test_a_bad_token_gets_401_plain_text(
    livekit: LiveKitDouble,
    with_token: Callable[[str], api.LiveKitAPI],
    token_of: Callable[[LiveKitDouble], str],
) -> None:
    client = with_token(token_of(livekit))
    # The server answers in plain text, so the client cannot read a Twirp code.
    await expect_error(client.room.list_rooms(api.ListRoomsRequest()), "unknown", 401)


async def test_no_token_is_unauthenticated(livekit: LiveKitDouble) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{livekit.url}/twirp/livekit.RoomService/ListRooms",
            data=b"",
            headers={"Content-Type": "application/protobuf"},
        ) as response,
    ):
        assert response.status == 401
        assert await response.json() == {"code": "unauthenticated", "msg": "permissions denied"}


# --- the wire ------------------------------------------------------------------------------


async def post(
    livekit: LiveKitDouble, path: str, body: bytes, content_type: str, token: str
) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            livekit.url + path,
            data=body,
            headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"},
        ) as response,
    ):
        return response.status, await response.read()


async def test_json_bodies_are_served_too(livekit: LiveKitDouble) -> None:
    token = signed(livekit, api.VideoGrants(room_create=True))
    status, body = await post(
        livekit,
        "/twirp/livekit.RoomService/CreateRoom",
        b'{"name": "json-room", "emptyTimeout": 30}',
        "application/json",
        token,
    )
    assert status == 200
    assert b'"name": "json-room"' in body
    assert b'"emptyTimeout": 30' in body


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "code"),
    [
        ("/twirp/livekit.RoomService/NoSuchMethod", b"", "application/protobuf", 404, "bad_route"),
        ("/twirp/other.RoomService/CreateRoom", b"", "application/protobuf", 404, "bad_route"),
        ("/twirp/livekit.RoomService/CreateRoom", b"", "text/plain", 404, "bad_route"),
        ("/twirp/livekit.RoomService/CreateRoom", b"\xff\xff", "application/protobuf", 400,
         "malformed"),
        ("/twirp/livekit.RoomService/CreateRoom", b"{", "application/json", 400, "malformed"),
        ("/twirp/livekit.RoomService/CreateRoom", b"\n\x01a" + b"\0" * (4 << 20),
         "application/protobuf", 400, "malformed"),
        ("/twirp/livekit.RoomService/MutePublishedTrack", b"", "application/protobuf", 501,
         "unimplemented"),
    ],
    ids=["unknown-method", "unknown-package", "content-type", "bad-protobuf", "bad-json",
         "oversized", "not-emulated"],
)  # fmt: skip
async def test_twirp_routing_and_decoding_errors(
    livekit: LiveKitDouble, path: str, body: bytes, content_type: str, status: int, code: str
) -> None:
    token = signed(livekit, api.VideoGrants(room_create=True, room_admin=True, room="x"))
    got_status, got_body = await post(livekit, path, body, content_type, token)
    assert got_status == status
    assert code in got_body.decode()


async def test_outage_answers_unavailable(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    async with livekit.outage():
        await expect_error(livekit_api.room.list_rooms(api.ListRoomsRequest()), "unavailable", 503)
    assert (await livekit_api.room.list_rooms(api.ListRoomsRequest())).rooms == []
