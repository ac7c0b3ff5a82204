"""LiveKit room operations the platform needs (the backend's routes and reconciler, the operator's
doctor), behind a small Protocol, and their livekit-api form over `shared.livekit_api`'s client.

`LiveKitRooms` is the only place that talks to LiveKit's rooms API. Every call has one overall
deadline — LIVEKIT_API_TIMEOUT_S, or what is left of the request's budget if that is less
(`shared.deadline`; nothing left: it fails without asking): livekit-api's Twirp client passes
`timeout=None` per request, which switches aiohttp's session timeout off, so on its own it would
wait forever on a server that accepts and never answers. Failures become two errors the API maps
onto answers: `LiveKitUnavailable` (unreachable, 5xx, timeout → 503) and `LiveKitRefused` (a 4xx
the request should not have caused → 502). A room that is already gone when an operation
reaches it is `RoomGone`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import aiohttp
from livekit import api
from livekit.protocol import models

from shared import deadline

T = TypeVar("T")


class LiveKitError(Exception):
    """Base of the errors a room operation raises."""


class LiveKitUnavailable(LiveKitError):
    """LiveKit could not be reached or failed (5xx, timeout); retrying later may succeed."""


class LiveKitRefused(LiveKitError):
    """LiveKit refused the request (4xx other than not-found)."""


class RoomGone(LiveKitError):
    """The room (or participant, or dispatch) does not exist (any more)."""


@dataclass(frozen=True, slots=True)
class NewRoom:
    name: str
    metadata: str
    agent_name: str
    dispatch_metadata: str
    empty_timeout_s: int
    departure_timeout_s: int
    max_participants: int


class Rooms(Protocol):
    async def create(self, room: NewRoom) -> models.Room:
        """Creates the room with exactly one agent dispatch (inside CreateRoom)."""

    async def list_rooms(self) -> list[models.Room]: ...

    async def participants(self, room: str) -> list[models.ParticipantInfo]: ...

    async def dispatches(self, room: str) -> list[api.AgentDispatch]: ...

    async def dispatch(self, room: str, agent_name: str, metadata: str) -> api.AgentDispatch:
        """Adds one more agent dispatch to an existing room (the reconciler's re-dispatch)."""

    async def remove_participant(self, room: str, identity: str) -> None: ...

    async def send_data(self, room: str, topic: str, payload: bytes) -> None:
        """A reliable data packet to everyone in the room."""

    async def delete(self, room: str) -> None:
        """Deletes the room; a room already gone is not an error."""


class LiveKitRooms:
    """`Rooms` over the real livekit-api client (the backend's: one per process, owned by the
    app's lifespan)."""

    def __init__(self, client: api.LiveKitAPI, *, timeout_s: float) -> None:
        self._api = client
        self._timeout_s = timeout_s

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        timeout_s = deadline.allowed(self._timeout_s)
        if timeout_s <= 0:
            raise LiveKitUnavailable("the time budget is spent; LiveKit was not asked")
        try:
            async with asyncio.timeout(timeout_s):
                return await _translated(operation)
        except TimeoutError as exc:
            raise LiveKitUnavailable(f"LiveKit did not answer within {timeout_s:.3g} s") from exc

    async def create(self, room: NewRoom) -> models.Room:
        request = api.CreateRoomRequest(
            name=room.name,
            metadata=room.metadata,
            empty_timeout=room.empty_timeout_s,
            departure_timeout=room.departure_timeout_s,
            max_participants=room.max_participants,
            agents=[
                api.RoomAgentDispatch(agent_name=room.agent_name, metadata=room.dispatch_metadata)
            ],
        )
        return await self._call(lambda: self._api.room.create_room(request))

    async def list_rooms(self) -> list[models.Room]:
        response = await self._call(lambda: self._api.room.list_rooms(api.ListRoomsRequest()))
        return list(response.rooms)

    async def room(self, name: str) -> models.Room | None:
        """One room by name (None when LiveKit does not list it)."""
        request = api.ListRoomsRequest(names=[name])
        response = await self._call(lambda: self._api.room.list_rooms(request))
        return response.rooms[0] if response.rooms else None

    async def participants(self, room: str) -> list[models.ParticipantInfo]:
        request = api.ListParticipantsRequest(room=room)
        response = await self._call(lambda: self._api.room.list_participants(request))
        return list(response.participants)

    async def dispatches(self, room: str) -> list[api.AgentDispatch]:
        return await self._call(lambda: self._api.agent_dispatch.list_dispatch(room))

    async def dispatch(self, room: str, agent_name: str, metadata: str) -> api.AgentDispatch:
        request = api.CreateAgentDispatchRequest(
            room=room, agent_name=agent_name, metadata=metadata
        )
        return await self._call(lambda: self._api.agent_dispatch.create_dispatch(request))

    async def remove_participant(self, room: str, identity: str) -> None:
        request = api.RoomParticipantIdentity(room=room, identity=identity)
        await self._call(lambda: self._api.room.remove_participant(request))

    async def send_data(self, room: str, topic: str, payload: bytes) -> None:
        request = api.SendDataRequest(
            room=room, data=payload, topic=topic, kind=models.DataPacket.Kind.RELIABLE
        )
        await self._call(lambda: self._api.room.send_data(request))

    async def delete(self, room: str) -> None:
        with contextlib.suppress(RoomGone):
            await self._call(lambda: self._api.room.delete_room(api.DeleteRoomRequest(room=room)))


async def _translated(operation: Callable[[], Awaitable[T]]) -> T:
    try:
        return await operation()
    except api.TwirpError as exc:
        if exc.status >= 500 or exc.code in ("unavailable", "deadline_exceeded", "internal"):
            raise LiveKitUnavailable(f"LiveKit answered {exc.status} {exc.code}") from exc
        if exc.code == "not_found" or exc.status == 404:
            raise RoomGone(exc.message or "not found") from exc
        raise LiveKitRefused(f"LiveKit refused the request: {exc.code}: {exc.message}") from exc
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise LiveKitUnavailable(f"LiveKit unreachable: {type(exc).__name__}") from exc
