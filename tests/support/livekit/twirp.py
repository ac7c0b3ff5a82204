"""The Twirp API: `POST /twirp/livekit.RoomService/<Method>` and `…AgentDispatchService/…`.

Auth is livekit-server's middleware: `Authorization: Bearer <jwt>` (or `?access_token=`); a
header without `Bearer `, an unparsable token, an unknown key, a bad signature or an expired
token get 401 with a plain-text body (the client sees code `unknown`); no token at all, or one
without the method's grant, gets Twirp `unauthenticated` "permissions denied". Bodies are
protobuf (`application/protobuf`, what livekit-api sends) or JSON (`application/json`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from livekit import api
from livekit.api.access_token import Claims
from livekit.protocol import agent_dispatch
from livekit.protocol import room as room_pb
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response

from tests.support.livekit.errors import TwirpError, permissions_denied
from tests.support.livekit.server import AuthError, RoomConfig, Server

logger = logging.getLogger(__name__)

PROTOBUF: Final = "application/protobuf"
JSON: Final = "application/json"
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
_NOT_EMULATED: Final = frozenset(
    {
        "MutePublishedTrack",
        "UpdateSubscriptions",
        "ForwardParticipant",
        "MoveParticipant",
        "PerformRpc",
    }
)

Handler = Callable[[Server, Message, Claims | None], Awaitable[Message]]


@dataclass(frozen=True)
class Method:
    request: type[Message]
    handler: Handler


def _grants(claims: Claims | None) -> api.VideoGrants:
    if claims is None or claims.video is None:
        raise permissions_denied()
    video: api.VideoGrants = claims.video
    return video


def _require_create(claims: Claims | None) -> None:
    if not _grants(claims).room_create:
        raise permissions_denied()


def _require_list(claims: Claims | None) -> None:
    if not _grants(claims).room_list:
        raise permissions_denied()


def _require_admin(claims: Claims | None, room: str) -> None:
    video = _grants(claims)
    if not video.room_admin or video.room != room:
        raise permissions_denied()


# --- RoomService ---------------------------------------------------------------------------


async def create_room(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, room_pb.CreateRoomRequest)
    _require_create(claims)
    return server.create_room(message.name, RoomConfig.of(message)).to_proto()


async def list_rooms(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, room_pb.ListRoomsRequest)
    _require_list(claims)
    wanted = set(message.names)
    return room_pb.ListRoomsResponse(
        rooms=[
            room.to_proto() for room in server.rooms.values() if not wanted or room.name in wanted
        ]
    )


async def delete_room(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, room_pb.DeleteRoomRequest)
    _require_create(claims)
    server.room(message.room)
    server.close_room(message.room, "deleted by the API")
    return room_pb.DeleteRoomResponse()


async def list_participants(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, room_pb.ListParticipantsRequest)
    _require_admin(claims, message.room)
    room = server.rooms.get(message.room)  # a missing room lists nobody, without an error
    participants = [] if room is None else [p.to_proto() for p in room.participants.values()]
    return room_pb.ListParticipantsResponse(participants=participants)


async def get_participant(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, room_pb.RoomParticipantIdentity)
    _require_admin(claims, message.room)
    try:
        return server.participant(message.room, message.identity).to_proto()
    except TwirpError:
        raise TwirpError("not_found", "participant does not exist") from None


async def remove_participant(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, room_pb.RoomParticipantIdentity)
    _require_admin(claims, message.room)
    try:
        server.leave(message.room, message.identity, "removed by the API")
    except TwirpError:
        raise TwirpError("not_found", "participant not found") from None
    return room_pb.RemoveParticipantResponse()


async def update_participant(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, room_pb.UpdateParticipantRequest)
    _require_admin(claims, message.room)
    return server.update_participant(message).to_proto()


async def update_room_metadata(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, room_pb.UpdateRoomMetadataRequest)
    _require_admin(claims, message.room)
    return server.update_room_metadata(message.room, message.metadata).to_proto()


async def send_data(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, room_pb.SendDataRequest)
    _require_admin(claims, message.room)
    server.room(message.room).data_packets.append((message.topic, message.data))
    return room_pb.SendDataResponse()


# --- AgentDispatchService ------------------------------------------------------------------


async def create_dispatch(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, agent_dispatch.CreateAgentDispatchRequest)
    _require_admin(claims, message.room)
    dispatch = server.create_dispatch(
        message.room, message.agent_name, message.metadata, dict(message.attributes)
    )
    return dispatch.to_proto()


async def delete_dispatch(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, agent_dispatch.DeleteAgentDispatchRequest)
    _require_admin(claims, message.room)
    return server.delete_dispatch(message.room, message.dispatch_id).to_proto()


async def list_dispatch(server: Server, message: Message, claims: Claims | None) -> Message:
    assert isinstance(message, agent_dispatch.ListAgentDispatchRequest)
    _require_admin(claims, message.room)
    room = server.room(message.room)
    return agent_dispatch.ListAgentDispatchResponse(
        agent_dispatches=[
            dispatch.to_proto()
            for dispatch in room.dispatches.values()
            if not message.dispatch_id or dispatch.id == message.dispatch_id
        ]
    )


METHODS: Final[dict[tuple[str, str], Method]] = {
    ("RoomService", "CreateRoom"): Method(room_pb.CreateRoomRequest, create_room),
    ("RoomService", "ListRooms"): Method(room_pb.ListRoomsRequest, list_rooms),
    ("RoomService", "DeleteRoom"): Method(room_pb.DeleteRoomRequest, delete_room),
    ("RoomService", "ListParticipants"): Method(room_pb.ListParticipantsRequest, list_participants),
    ("RoomService", "GetParticipant"): Method(room_pb.RoomParticipantIdentity, get_participant),
    ("RoomService", "RemoveParticipant"): Method(
        room_pb.RoomParticipantIdentity, remove_participant
    ),
    ("RoomService", "UpdateParticipant"): Method(
        room_pb.UpdateParticipantRequest, update_participant
    ),
    ("RoomService", "UpdateRoomMetadata"): Method(
        room_pb.UpdateRoomMetadataRequest, update_room_metadata
    ),
    ("RoomService", "SendData"): Method(room_pb.SendDataRequest, send_data),
    ("AgentDispatchService", "CreateDispatch"): Method(
        agent_dispatch.CreateAgentDispatchRequest, create_dispatch
    ),
    ("AgentDispatchService", "DeleteDispatch"): Method(
        agent_dispatch.DeleteAgentDispatchRequest, delete_dispatch
    ),
    ("AgentDispatchService", "ListDispatch"): Method(
        agent_dispatch.ListAgentDispatchRequest, list_dispatch
    ),
}


def bearer_token(request: HTTPConnection) -> str | None:
    """The request's token; AuthError for an Authorization header that is not `Bearer …`."""
    header = request.headers.get("authorization")
    if header is not None:
        if not header.startswith("Bearer "):
            raise AuthError("invalid authorization header. Must start with Bearer ")
        return header[len("Bearer ") :]
    return request.query_params.get("access_token")


async def handle(server: Server, request: Request) -> Response:
    """Serve one Twirp call."""
    service = request.path_params["service"]
    method_name = request.path_params["method"]
    path = request.url.path
    if server.outage:
        return TwirpError("unavailable", "the LiveKit server is unavailable").response()
    try:
        token = bearer_token(request)
        claims = server.verify(token) if token else None
    except AuthError as exc:
        return PlainTextResponse(str(exc), 401)

    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if not service.startswith("livekit."):
            raise _bad_route(path)
        method = METHODS.get((service.removeprefix("livekit."), method_name))
        if method is None:
            if method_name in _NOT_EMULATED:
                raise TwirpError(
                    "unimplemented", f"{method_name} is not emulated by the LiveKit test double"
                )
            raise _bad_route(path)
        if content_type not in (PROTOBUF, JSON):
            raise TwirpError("bad_route", f"unexpected Content-Type: {content_type!r}")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise TwirpError("malformed", "the request body is too large")
        message = _decode(method.request, body, content_type)
        reply = await method.handler(server, message, claims)
    except TwirpError as exc:
        logger.info(
            "twirp error",
            extra={"path": path, "code": exc.code, "msg": exc.msg},
        )
        return exc.response()
    if content_type == JSON:
        return Response(json_format.MessageToJson(reply), media_type=JSON)
    return Response(reply.SerializeToString(), media_type=PROTOBUF)


def _bad_route(path: str) -> TwirpError:
    return TwirpError(
        "bad_route",
        f"no handler for path {path!r}",
        {"twirp_invalid_route": f"POST {path}"},
    )


def _decode(request_type: type[Message], body: bytes, content_type: str) -> Message:
    message = request_type()
    try:
        if content_type == JSON:
            json_format.Parse(body or b"{}", message)
        else:
            message.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError) as exc:
        raise TwirpError("malformed", f"the request could not be decoded: {exc}") from None
    return message
