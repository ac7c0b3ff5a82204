"""The Twirp API: `POST /twirp/livekit.RoomService/<Method>` and `…AgentDispatchService/…`.

Auth is livekit-server's middleware: `Authorization: Bearer <jwt>` (or `?access_token=`); a
header without `Bearer `, an unparsable token, an unknown key, a bad signature or an expired
token get 401 with a plain-text body (the client sees code `unknown`); no token at all, or one
without the method's grant, gets Twirp `unauthenticated` "permissions denied". Bodies are
protobuf (`application/protobuf`, what livekit-api sends) or JSON (`application/json`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
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

M = TypeVar("M", bound=Message)
Grant = Literal["roomCreate", "roomList", "roomAdmin"]


@dataclass(frozen=True)
class Method(Generic[M]):
    """One Twirp method: its request type, the grant it needs, and what it does."""

    request: type[M]
    grant: Grant
    handler: Callable[[Server, M], Message]


def check_grant(grant: Grant, claims: Claims | None, message: Message) -> None:
    """EnsureCreatePermission / EnsureListPermission / EnsureAdminPermission (auth.go)."""
    video = claims.video if claims is not None else None
    if video is None:
        raise permissions_denied()
    if grant == "roomCreate":
        allowed = bool(video.room_create)
    elif grant == "roomList":
        allowed = bool(video.room_list)
    else:  # roomAdmin is for the one room the token names
        allowed = bool(video.room_admin) and video.room == getattr(message, "room", None)
    if not allowed:
        raise permissions_denied()


# --- RoomService ---------------------------------------------------------------------------


def list_rooms(server: Server, message: room_pb.ListRoomsRequest) -> Message:
    wanted = set(message.names)
    rooms = [r.to_proto() for r in server.rooms.values() if not wanted or r.name in wanted]
    return room_pb.ListRoomsResponse(rooms=rooms)


def delete_room(server: Server, message: room_pb.DeleteRoomRequest) -> Message:
    server.room(message.room)  # not_found first, as the server loads the room
    server.close_room(message.room, "deleted by the API")
    return room_pb.DeleteRoomResponse()


def list_participants(server: Server, message: room_pb.ListParticipantsRequest) -> Message:
    room = server.rooms.get(message.room)  # a missing room lists nobody, without an error
    participants = [] if room is None else [p.to_proto() for p in room.participants.values()]
    return room_pb.ListParticipantsResponse(participants=participants)


def get_participant(server: Server, message: room_pb.RoomParticipantIdentity) -> Message:
    try:
        return server.participant(message.room, message.identity).to_proto()
    except TwirpError:
        raise TwirpError("not_found", "participant does not exist") from None


def remove_participant(server: Server, message: room_pb.RoomParticipantIdentity) -> Message:
    try:
        server.leave(message.room, message.identity, "removed by the API")
    except TwirpError:
        raise TwirpError("not_found", "participant not found") from None
    return room_pb.RemoveParticipantResponse()


def send_data(server: Server, message: room_pb.SendDataRequest) -> Message:
    server.room(message.room).data_packets.append((message.topic, message.data))
    return room_pb.SendDataResponse()


# --- AgentDispatchService ------------------------------------------------------------------


def create_dispatch(server: Server, message: agent_dispatch.CreateAgentDispatchRequest) -> Message:
    dispatch = server.create_dispatch(
        message.room, message.agent_name, message.metadata, dict(message.attributes)
    )
    return dispatch.to_proto()


def list_dispatch(server: Server, message: agent_dispatch.ListAgentDispatchRequest) -> Message:
    dispatches = server.room(message.room).dispatches.values()
    return agent_dispatch.ListAgentDispatchResponse(
        agent_dispatches=[d.to_proto() for d in dispatches if message.dispatch_id in ("", d.id)]
    )


METHODS: Final[dict[tuple[str, str], Method[Any]]] = {
    ("RoomService", "CreateRoom"): Method(
        room_pb.CreateRoomRequest,
        "roomCreate",
        lambda s, m: s.create_room(m.name, RoomConfig.of(m)).to_proto(),
    ),
    ("RoomService", "ListRooms"): Method(room_pb.ListRoomsRequest, "roomList", list_rooms),
    ("RoomService", "DeleteRoom"): Method(room_pb.DeleteRoomRequest, "roomCreate", delete_room),
    ("RoomService", "ListParticipants"): Method(
        room_pb.ListParticipantsRequest, "roomAdmin", list_participants
    ),
    ("RoomService", "GetParticipant"): Method(
        room_pb.RoomParticipantIdentity, "roomAdmin", get_participant
    ),
    ("RoomService", "RemoveParticipant"): Method(
        room_pb.RoomParticipantIdentity, "roomAdmin", remove_participant
    ),
    ("RoomService", "UpdateParticipant"): Method(
        room_pb.UpdateParticipantRequest,
        "roomAdmin",
        lambda s, m: s.update_participant(m).to_proto(),
    ),
    ("RoomService", "UpdateRoomMetadata"): Method(
        room_pb.UpdateRoomMetadataRequest,
        "roomAdmin",
        lambda s, m: s.update_room_metadata(m.room, m.metadata).to_proto(),
    ),
    ("RoomService", "SendData"): Method(room_pb.SendDataRequest, "roomAdmin", send_data),
    ("AgentDispatchService", "CreateDispatch"): Method(
        agent_dispatch.CreateAgentDispatchRequest, "roomAdmin", create_dispatch
    ),
    ("AgentDispatchService", "DeleteDispatch"): Method(
        agent_dispatch.DeleteAgentDispatchRequest,
        "roomAdmin",
        lambda s, m: s.delete_dispatch(m.room, m.dispatch_id).to_proto(),
    ),
    ("AgentDispatchService", "ListDispatch"): Method(
        agent_dispatch.ListAgentDispatchRequest, "roomAdmin", list_dispatch
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
        check_grant(method.grant, claims, message)
        reply = method.handler(server, message)
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
