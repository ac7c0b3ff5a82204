"""The double's server state and the operations the APIs and the tests share.

Everything here runs on the double's own event loop (one thread), so state needs no locks.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Final, cast

import jwt
from livekit import api
from livekit.api.access_token import Claims
from livekit.protocol import agent, agent_dispatch, models
from livekit.protocol import room as room_pb

from tests.support.livekit.errors import (
    MAX_METADATA_SIZE,
    MAX_ROOM_NAME_LENGTH,
    JoinRefused,
    TwirpError,
    room_not_found,
)
from tests.support.livekit.rooms import (
    AGENT,
    DEFAULT_DEPARTURE_TIMEOUT_S,
    DEFAULT_EMPTY_TIMEOUT_S,
    STANDARD,
    Clock,
    Dispatch,
    Kind,
    Participant,
    Room,
    new_id,
)
from tests.support.livekit.webhooks import WebhookNotifier
from tests.support.livekit.workers import (
    JS_FAILED,
    JS_RUNNING,
    SERVER_PROTOCOL,
    SERVER_VERSION,
    Assignment,
    JobNotLaunched,
    JobStatus,
    Worker,
    WorkerPool,
)

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_S: Final = 0.1
# DeleteDispatch waits this long for the agent to leave before removing it (agentdispatch).
DISPATCH_DELETE_GRACE_S: Final = 3.0


class AuthError(Exception):
    """A token the server refuses outright: HTTP 401 with a plain-text body."""


@dataclass(frozen=True)
class JobView:
    """A job as the double knows it now (the worker's own status updates included)."""

    id: str
    dispatch_id: str
    room: str
    agent_name: str
    metadata: str
    worker_id: str
    participant_identity: str
    status: JobStatus
    error: str

    @property
    def status_name(self) -> str:
        return agent.JobStatus.Name(self.status)


@dataclass(frozen=True)
class RoomConfig:
    """What a room is created with, from CreateRoom, a token's room config, or defaults."""

    empty_timeout: int = 0
    departure_timeout: int = 0
    max_participants: int = 0
    metadata: str = ""
    agents: tuple[agent_dispatch.RoomAgentDispatch, ...] = ()

    @classmethod
    def of(cls, message: room_pb.CreateRoomRequest | room_pb.RoomConfiguration) -> RoomConfig:
        return cls(
            empty_timeout=message.empty_timeout,
            departure_timeout=message.departure_timeout,
            max_participants=message.max_participants,
            metadata=message.metadata,
            agents=tuple(message.agents),
        )


class Server:
    """Rooms, dispatches, workers and webhooks of one emulated LiveKit server."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        seed: int | None = None,
        assign_timeout: float | None = None,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.clock = Clock()
        self.rooms: dict[str, Room] = {}
        self.jobs: dict[str, agent.Job] = {}
        self.pool = WorkerPool(random.Random(seed))
        if assign_timeout is not None:
            self.pool.assign_timeout = assign_timeout
        self.notifier = WebhookNotifier(self.api_key, self.api_secret, self.clock)
        self.server_info = models.ServerInfo(
            edition=models.ServerInfo.Edition.Standard,
            version=SERVER_VERSION,
            protocol=SERVER_PROTOCOL,
            agent_protocol=1,
            region="local",
            node_id=new_id("ND_"),
        )
        self.outage = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.notifier.start()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="room-sweeper")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._sweeper] if self._sweeper else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.notifier.stop()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the job launches and webhooks started so far (tests: no sleeps)."""
        while pending := [t for t in self._tasks if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
        await self.notifier.drain()

    # --- auth --------------------------------------------------------------------------------

    def verify(self, token: str) -> Claims:
        """The claims of a token signed with one of our keys (auth.go's middleware)."""
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
        except jwt.PyJWTError:
            raise AuthError("invalid authorization token") from None
        if issuer != self.api_key:
            raise AuthError(f"invalid API key: {issuer}")
        try:
            return api.TokenVerifier(self.api_key, self.api_secret).verify(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {token}, error: {exc}") from None

    # --- rooms -------------------------------------------------------------------------------

    def room(self, name: str) -> Room:
        found = self.rooms.get(name)
        if found is None:
            raise room_not_found()
        return found

    def create_room(self, name: str, config: RoomConfig) -> Room:
        """The live room named `name`, created (and its agents dispatched) if there is none."""
        existing = self.rooms.get(name)
        if existing is not None:
            return existing  # getOrCreateRoom: the request's fields are ignored
        if len(name) > MAX_ROOM_NAME_LENGTH:
            raise TwirpError(
                "invalid_argument",
                f"room name length exceeds limits: max length {MAX_ROOM_NAME_LENGTH}",
            )
        if not name:
            raise TwirpError("invalid_argument", "room name must be set")
        self._check_metadata(config.metadata)
        room = Room(
            sid=new_id("RM_"),
            name=name,
            created_at=self.clock.now(),
            empty_timeout=config.empty_timeout or DEFAULT_EMPTY_TIMEOUT_S,
            departure_timeout=config.departure_timeout or DEFAULT_DEPARTURE_TIMEOUT_S,
            max_participants=config.max_participants,
            metadata=config.metadata,
        )
        self.rooms[name] = room
        logger.info("room started", extra={"room": name, "room_sid": room.sid})
        self.notifier.notify("room_started", room.to_proto())
        # With no explicit agents the room gets one dispatch to unnamed workers (NewRoom).
        for wanted in config.agents or (agent_dispatch.RoomAgentDispatch(),):
            self._dispatch(room, wanted.agent_name, wanted.metadata, dict(wanted.attributes))
        return room

    def update_room_metadata(self, name: str, metadata: str) -> Room:
        self._check_metadata(metadata)
        room = self.room(name)
        room.metadata = metadata
        room.version += 1
        return room

    def close_room(self, name: str, reason: str) -> None:
        room = self.rooms.pop(name, None)
        if room is None:
            return
        logger.info("room closed", extra={"room": name, "reason": reason})
        for participant in list(room.participants.values()):
            self._remove(room, participant, reason)
        self.notifier.notify("room_finished", room.to_proto())

    def sweep(self) -> None:
        now = self.clock.now()
        for room in list(self.rooms.values()):
            reason = room.close_reason(now)
            if reason is not None:
                self.close_room(room.name, reason)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            self.sweep()

    @staticmethod
    def _check_metadata(metadata: str) -> None:
        if len(metadata) > MAX_METADATA_SIZE:
            raise TwirpError(
                "invalid_argument",
                "metadata size exceeds limits",
                {"argument": str(MAX_METADATA_SIZE)},
            )

    # --- participants ------------------------------------------------------------------------

    def join(
        self,
        room_name: str,
        identity: str,
        *,
        name: str = "",
        kind: Kind = STANDARD,
        metadata: str = "",
        attributes: dict[str, str] | None = None,
        permission: models.ParticipantPermission | None = None,
        config: RoomConfig | None = None,
    ) -> Participant:
        """A participant connects to `room_name` (auto-created as the real server does)."""
        if not identity:
            raise JoinRefused("participant identity must be set")
        room = self.rooms.get(room_name)
        if room is None:
            room = self.create_room(room_name, config or RoomConfig())
        replaced = room.participants.get(identity)
        if replaced is not None:
            self._remove(room, replaced, "duplicate identity")
        participant = Participant(
            sid=new_id("PA_"),
            identity=identity,
            name=name,
            kind=kind,
            joined_at=self.clock.now(),
            metadata=metadata,
            attributes=dict(attributes or {}),
        )
        if permission is not None:
            participant.permission.CopyFrom(permission)
        if (
            room.max_participants
            and not participant.is_dependent
            and len(room.humans()) >= room.max_participants
        ):
            raise JoinRefused(f"room {room_name} is full")
        self._add(room, participant)
        return participant

    def join_with_token(self, token: str) -> Participant:
        """Connect as the SFU would admit `token`: signed, current, `roomJoin` for one room."""
        try:
            claims = self.verify(token)
        except AuthError as exc:
            raise JoinRefused(str(exc)) from None
        video = claims.video
        if video is None or not video.room_join or not video.room:
            raise JoinRefused("the token does not grant roomJoin to a room")
        permission = models.ParticipantPermission(
            can_subscribe=video.can_subscribe,
            can_publish=video.can_publish,
            can_publish_data=video.can_publish_data,
            can_update_metadata=bool(video.can_update_own_metadata),
            hidden=bool(video.hidden),
            agent=bool(video.agent),
        )
        kind = _participant_kind(claims.kind)
        config = RoomConfig.of(claims.room_config) if claims.room_config else None
        return self.join(
            video.room,
            claims.identity,
            name=claims.name,
            kind=kind,
            metadata=claims.metadata,
            attributes=claims.attributes,
            permission=permission,
            config=config,
        )

    def leave(self, room_name: str, identity: str, reason: str = "client initiated") -> None:
        room = self.room(room_name)
        participant = room.participants.get(identity)
        if participant is None:
            raise TwirpError("not_found", "participant not found")
        self._remove(room, participant, reason)

    def participant(self, room_name: str, identity: str) -> Participant:
        participant = self.room(room_name).participants.get(identity)
        if participant is None:
            raise TwirpError("not_found", "participant does not exist")
        return participant

    def update_participant(self, request: room_pb.UpdateParticipantRequest) -> Participant:
        self._check_metadata(request.metadata)
        participant = self.participant(request.room, request.identity)
        if request.metadata:
            participant.metadata = request.metadata
        if request.name:
            participant.name = request.name
        for key, value in request.attributes.items():
            if value:
                participant.attributes[key] = value
            else:
                participant.attributes.pop(key, None)
        if request.HasField("permission"):
            participant.permission.CopyFrom(request.permission)
        participant.version += 1
        return participant

    def _add(self, room: Room, participant: Participant) -> None:
        room.participants[participant.identity] = participant
        if not participant.is_dependent and room.first_joined_at is None:
            room.first_joined_at = participant.joined_at
        room.version += 1
        self.notifier.notify("participant_joined", room.to_proto(), participant.to_proto())

    def _remove(self, room: Room, participant: Participant, reason: str) -> None:
        if room.participants.get(participant.identity) is not participant:
            return
        del room.participants[participant.identity]
        if not participant.is_dependent:
            room.last_left_at = self.clock.now()
        room.version += 1
        logger.info(
            "participant left",
            extra={"room": room.name, "identity": participant.identity, "reason": reason},
        )
        info = participant.to_proto()
        info.state = models.ParticipantInfo.State.DISCONNECTED
        self.notifier.notify("participant_left", room.to_proto(), info)
        if participant.job_id is not None:
            # The agent left the room: the server tells its worker to end the job.
            self._terminate(participant.job_id, agent_left=True)

    # --- dispatch and jobs -------------------------------------------------------------------

    def create_dispatch(
        self, room_name: str, agent_name: str, metadata: str, attributes: dict[str, str]
    ) -> Dispatch:
        room = self.rooms.get(room_name) or self.create_room(room_name, RoomConfig())
        return self._dispatch(room, agent_name, metadata, attributes)

    def delete_dispatch(self, room_name: str, dispatch_id: str) -> Dispatch:
        room = self.room(room_name)
        dispatch = room.dispatches.pop(dispatch_id, None)
        if dispatch is None:
            raise TwirpError("not_found", "dispatch ID not found")
        for job in dispatch.jobs:
            if self._terminate(job.id, agent_left=False):
                self.spawn(self._evict_agent(room, job.id), name=f"evict-{job.id}")
        return dispatch

    def job_views(self, room_name: str | None = None) -> list[JobView]:
        return [
            JobView(
                id=job.id,
                dispatch_id=job.dispatch_id,
                room=job.room.name,
                agent_name=job.agent_name,
                metadata=job.metadata,
                worker_id=job.state.worker_id,
                participant_identity=job.state.participant_identity,
                status=job.state.status,
                error=job.state.error,
            )
            for job in self.jobs.values()
            if room_name is None or job.room.name == room_name
        ]

    def _dispatch(
        self, room: Room, agent_name: str, metadata: str, attributes: dict[str, str]
    ) -> Dispatch:
        dispatch = Dispatch(
            id=new_id("AD_"),
            room=room.name,
            agent_name=agent_name,
            metadata=metadata,
            created_at_ns=self.clock.now_ns(),
            attributes=attributes,
        )
        room.dispatches[dispatch.id] = dispatch
        job = agent.Job(
            id=new_id("AJ_"),
            dispatch_id=dispatch.id,
            type=agent.JobType.JT_ROOM,
            agent_name=agent_name,
            metadata=metadata,
        )
        job.room.CopyFrom(room.to_proto())
        job.attributes.update(attributes)
        self.spawn(self._launch(room, dispatch, job), name=f"launch-{job.id}")
        return dispatch

    async def _launch(self, room: Room, dispatch: Dispatch, job: agent.Job) -> None:
        try:
            assignment = await self.pool.launch(job)
        except JobNotLaunched as exc:
            logger.warning(
                "failed to send job request",
                extra={"room": room.name, "agent_name": job.agent_name, "error": str(exc)},
            )
            return
        launched = assignment.job
        dispatch.jobs.append(_copy(launched))
        self.jobs[launched.id] = launched
        if launched.state.status != agent.JobStatus.JS_RUNNING:
            return  # the worker answered terminate: the job ended there
        if self.rooms.get(room.name) is not room or dispatch.id not in room.dispatches:
            # The room or the dispatch went while the offer was out.
            self._terminate(launched.id, agent_left=False)
            return
        self._add(room, self._agent_participant(assignment))

    def _agent_participant(self, assignment: Assignment) -> Participant:
        # No SFU: the agent is in the room from its assignment until its job ends.
        answer = assignment.answer
        permission = models.ParticipantPermission()
        permission.CopyFrom(assignment.worker.permissions)
        permission.agent = True
        return Participant(
            sid=new_id("PA_"),
            identity=answer.participant_identity,
            name=answer.participant_name,
            kind=AGENT,
            joined_at=self.clock.now(),
            metadata=answer.participant_metadata,
            attributes=assignment.attributes,
            permission=permission,
            job_id=assignment.job.id,
        )

    def _terminate(self, job_id: str, *, agent_left: bool) -> bool:
        worker = self.pool.find_job(job_id)
        if worker is None or not worker.end_job(job_id, agent_left=agent_left):
            return False
        self.spawn(worker.send_termination(job_id), name=f"terminate-{job_id}")
        return True

    async def _evict_agent(self, room: Room, job_id: str) -> None:
        await asyncio.sleep(DISPATCH_DELETE_GRACE_S)
        self._remove_job_participants([room], job_id, "dispatch deleted")

    def _remove_job_participants(self, rooms: Iterable[Room], job_id: str, reason: str) -> None:
        for room in rooms:
            for participant in list(room.participants.values()):
                if participant.job_id == job_id:
                    self._remove(room, participant, reason)

    # WorkerEvents

    def job_ended(self, worker: Worker, job: agent.Job) -> None:
        logger.info(
            "job ended",
            extra={"job_id": job.id, "worker_id": worker.id, "status": job.state.status},
        )
        self._remove_job_participants(list(self.rooms.values()), job.id, "job ended")

    def worker_lost(self, worker: Worker, jobs: list[agent.Job]) -> None:
        # Its job processes die with it and drop out of their rooms; nothing re-dispatches.
        for job in jobs:
            if job.state.status == JS_RUNNING:
                job.state.status = JS_FAILED
                job.state.error = "worker disconnected"
            self._remove_job_participants(list(self.rooms.values()), job.id, "worker lost")

    async def disconnect_workers(self, reason: str) -> None:
        await asyncio.gather(*(worker.disconnect(reason) for worker in self.pool))


def _participant_kind(name: str) -> Kind:
    """The kind a token claims ("agent", "sip", …); standard when it claims none."""
    if not name:
        return STANDARD
    try:
        return cast(Kind, models.ParticipantInfo.Kind.Value(name.upper()))
    except ValueError:
        raise JoinRefused(f"unknown participant kind {name!r}") from None


def _copy(job: agent.Job) -> agent.Job:
    copied = agent.Job()
    copied.CopyFrom(job)
    return copied
