"""Rooms, participants and dispatches, kept and rendered as the LiveKit server does.

Plain state with no I/O: the server module changes it and sends what follows (webhooks, jobs).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from livekit.protocol import agent, agent_dispatch, models

# livekit-server's room defaults (config.RoomConfig).
DEFAULT_EMPTY_TIMEOUT_S: Final = 300
DEFAULT_DEPARTURE_TIMEOUT_S: Final = 20

_ID_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ENABLED_CODECS: Final = ("audio/opus", "audio/red", "video/VP8", "video/H264", "video/VP9")

Kind: TypeAlias = models.ParticipantInfo.Kind
STANDARD: Final[Kind] = models.ParticipantInfo.Kind.STANDARD
AGENT: Final[Kind] = models.ParticipantInfo.Kind.AGENT
EGRESS: Final[Kind] = models.ParticipantInfo.Kind.EGRESS
SIP: Final[Kind] = models.ParticipantInfo.Kind.SIP


def new_id(prefix: str) -> str:
    """A server id such as `RM_4fKc9TzQx2Ab` (prefix + 12 shortuuid characters)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


class Clock:
    """Wall-clock seconds plus an offset that only tests move.

    Rooms age and time out by it, so a test can skip a 300 s empty timeout instantly. Token
    expiry is still checked against real time, as PyJWT does for every client.
    """

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def now_ns(self) -> int:
        return int(self.now() * 1e9)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds


@dataclass
class Participant:
    sid: str
    identity: str
    name: str
    kind: Kind
    joined_at: float
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    permission: models.ParticipantPermission = field(
        default_factory=lambda: models.ParticipantPermission(
            can_subscribe=True, can_publish=True, can_publish_data=True
        )
    )
    job_id: str | None = None
    version: int = 1

    @property
    def is_dependent(self) -> bool:
        """Agents and recorders never keep a room open (rtc.ParticipantImpl.IsDependent)."""
        return self.kind in (AGENT, EGRESS) or self.permission.agent or self.permission.recorder

    def to_proto(self) -> models.ParticipantInfo:
        info = models.ParticipantInfo(
            sid=self.sid,
            identity=self.identity,
            name=self.name,
            state=models.ParticipantInfo.State.ACTIVE,
            metadata=self.metadata,
            joined_at=int(self.joined_at),
            joined_at_ms=int(self.joined_at * 1000),
            version=self.version,
            kind=self.kind,
            region="local",
        )
        info.permission.CopyFrom(self.permission)
        info.attributes.update(self.attributes)
        return info


@dataclass
class Dispatch:
    id: str
    room: str
    agent_name: str
    metadata: str
    created_at_ns: int
    attributes: dict[str, str] = field(default_factory=dict)
    # What the job request returned, as the server stores it: later job status updates from
    # the worker do not reach it (livekit-server handleNewJobs), so ListDispatch shows it.
    jobs: list[agent.Job] = field(default_factory=list)

    def to_proto(self) -> agent_dispatch.AgentDispatch:
        dispatch = agent_dispatch.AgentDispatch(
            id=self.id, agent_name=self.agent_name, room=self.room, metadata=self.metadata
        )
        dispatch.attributes.update(self.attributes)
        dispatch.state.created_at = self.created_at_ns
        dispatch.state.jobs.extend(self.jobs)
        return dispatch


@dataclass
class Room:
    sid: str
    name: str
    created_at: float
    empty_timeout: int = DEFAULT_EMPTY_TIMEOUT_S
    departure_timeout: int = DEFAULT_DEPARTURE_TIMEOUT_S
    max_participants: int = 0
    metadata: str = ""
    turn_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    participants: dict[str, Participant] = field(default_factory=dict)
    dispatches: dict[str, Dispatch] = field(default_factory=dict)
    first_joined_at: float | None = None
    last_left_at: float | None = None
    data_packets: list[tuple[str, bytes]] = field(default_factory=list)
    version: int = 1

    def humans(self) -> list[Participant]:
        return [p for p in self.participants.values() if not p.is_dependent]

    def to_proto(self) -> models.Room:
        room = models.Room(
            sid=self.sid,
            name=self.name,
            empty_timeout=self.empty_timeout,
            departure_timeout=self.departure_timeout,
            max_participants=self.max_participants,
            creation_time=int(self.created_at),
            creation_time_ms=int(self.created_at * 1000),
            turn_password=self.turn_password,
            metadata=self.metadata,
            # updateProto counts everyone but agents and recorders.
            num_participants=len(self.humans()),
            num_publishers=0,
        )
        room.enabled_codecs.extend(models.Codec(mime=mime) for mime in _ENABLED_CODECS)
        room.version.unix_micro = int(self.created_at * 1e6)
        room.version.ticks = self.version
        return room

    def close_reason(self, now: float) -> str | None:
        """Why the room should close at `now`, or None (rtc.Room.CloseIfEmpty)."""
        if self.humans():
            return None
        if self.first_joined_at is not None and self.last_left_at is not None:
            if now - self.last_left_at >= self.departure_timeout:
                return "departure timeout"
            return None
        if now - self.created_at >= self.empty_timeout:
            return "empty timeout"
        return None
