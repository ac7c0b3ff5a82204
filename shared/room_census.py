"""The room census: the platform's live rooms as LiveKit lists them (the only source of truth),
each with its people and its agents. One reading for everyone who looks: the backend's
reconciler acts on it, `GET /api/rooms` and `GET /api/stats` show it (`backend.agents` decides
which rooms a caller sees), and `voxiectl doctor` checks it, with the thresholds of
`shared.reconciliation`.

A room's lifecycle state is what its agent publishes as participant attributes
(`shared.contracts.lifecycle`); LiveKit holds them, so there is no second copy to drift.

A room as `GET /api/rooms` answers it (`RoomView`; `agent_name` is filled in by the backend):

    {"name": "agent-3f2b…-k4x9q2m8", "kind": "agent", "agent_id": "3f2b…", "agent_name": null,
     "humans": ["user:9c1d…"], "agent_present": true, "agents": ["agent-AJ_x"],
     "state": "active", "grace_remaining_s": null, "session_id": "6a0e…", "age_s": 42.5,
     "created_at": "2026-12-01T09:00:00+00:00"}
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from livekit.protocol import models
from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.lifecycle import AgentLifecycle
from shared.naming import RoomKind, RoomName, parse_room_name
from shared.presence import agents_oldest_first, is_human
from shared.rooms import Rooms

# What livekit-server sets on every agent participant: the agent name its worker registered
# (`AgentNameAttributeKey`, pkg/agent/worker.go).
AGENT_NAME_ATTRIBUTE = "lk.agent_name"

# The phases of a room whose agent has published no lifecycle state (yet).
STARTING = "starting"  # an agent is in the room
WAITING_FOR_AGENT = "waiting_for_agent"  # people, no agent
EMPTY = "empty"  # neither

# Rooms whose participants are listed at once.
PARALLEL_ROOMS = 8


class RoomView(BaseModel):
    """One room as the API shows it (the body of `GET /api/rooms`' items)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: RoomKind
    agent_id: UUID | None
    agent_name: str | None = Field(
        default=None,
        description="the agent's name; null for Voxie's rooms, an agent that is gone, or while "
        "the database cannot be read (the rooms are LiveKit's view and still listed)",
    )
    humans: list[str]
    agent_present: bool
    agents: list[str]
    state: str = Field(
        description="the agent's lifecycle state, or starting / empty / "
        "waiting_for_agent while none has published one"
    )
    grace_remaining_s: float | None
    session_id: UUID | None
    age_s: float
    created_at: str


@dataclass(frozen=True, slots=True)
class RoomState:
    """One platform room as LiveKit lists it now."""

    room: models.Room
    name: RoomName
    humans: list[models.ParticipantInfo]
    agents: list[models.ParticipantInfo]  # oldest first: the one that stays (shared.presence)

    @property
    def created_at(self) -> float:
        return self.room.creation_time_ms / 1000 or float(self.room.creation_time)

    @property
    def lifecycle(self) -> AgentLifecycle | None:
        return AgentLifecycle.from_attributes(self.agents[0].attributes) if self.agents else None

    @property
    def extra_agents(self) -> list[models.ParticipantInfo]:
        """The agents beyond the one that stays (`shared.presence`: the oldest)."""
        return self.agents[1:]

    def agents_named(self, agent_name: str) -> list[models.ParticipantInfo]:
        """The agents here whose worker registered under `agent_name`."""
        return [a for a in self.agents if a.attributes.get(AGENT_NAME_ATTRIBUTE) == agent_name]

    @property
    def phase(self) -> str:
        """The agent's lifecycle state, or STARTING / WAITING_FOR_AGENT / EMPTY."""
        lifecycle = self.lifecycle
        if lifecycle is not None:
            return lifecycle.state.value
        if self.agents:
            return STARTING  # the agent has not published its state yet
        return WAITING_FOR_AGENT if self.humans else EMPTY

    def age_s(self, now: float) -> float:
        """Seconds since LiveKit created the room (`now`: a Unix time)."""
        return max(0.0, now - self.created_at)

    def view(self, now: datetime) -> RoomView:
        lifecycle = self.lifecycle
        return RoomView(
            name=self.room.name,
            kind=self.name.kind,
            agent_id=self.name.agent_id,
            humans=[p.identity for p in self.humans],
            agent_present=bool(self.agents),
            agents=[p.identity for p in self.agents],
            state=self.phase,
            grace_remaining_s=lifecycle.grace_remaining_s(now) if lifecycle else None,
            session_id=lifecycle.session_id if lifecycle else None,
            age_s=round(self.age_s(now.timestamp()), 1),
            created_at=datetime.fromtimestamp(self.created_at, UTC).isoformat(),
        )


async def room_states(rooms: Rooms, listed: list[models.Room]) -> list[RoomState]:
    """The platform's rooms among `listed`, each with its participants."""
    limit = asyncio.Semaphore(PARALLEL_ROOMS)

    async def state(room: models.Room, name: RoomName) -> RoomState:
        async with limit:
            participants = await rooms.participants(room.name)
        return RoomState(
            room=room,
            name=name,
            humans=[p for p in participants if is_human(p)],
            agents=agents_oldest_first(participants),
        )

    platform = [(room, parsed) for room in listed if (parsed := parse_room_name(room.name))]
    return list(await asyncio.gather(*(state(room, name) for room, name in platform)))
