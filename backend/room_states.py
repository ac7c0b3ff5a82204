"""The read model of the platform's live rooms, from LiveKit (the only source of truth): what the
reconciler acts on and what `GET /api/rooms` and `GET /api/stats` show (`backend.agents`
decides which of them a caller sees).

A room's lifecycle state is what its agent publishes as participant attributes
(`shared.contracts.lifecycle`); LiveKit holds them, so there is no second copy to drift.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from livekit.protocol import models

from backend.bodies import RoomView
from backend.rooms import Rooms
from shared.contracts.lifecycle import AgentLifecycle
from shared.naming import RoomName, parse_room_name
from shared.presence import agents_oldest_first, is_human

# Rooms whose participants are listed at once.
PARALLEL_ROOMS = 8


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

    def view(self, now: datetime) -> RoomView:
        lifecycle = self.lifecycle
        if lifecycle is not None:
            phase = lifecycle.state.value
        elif self.agents:
            phase = "starting"  # the agent has not published its state yet
        else:
            phase = "waiting_for_agent" if self.humans else "empty"
        return RoomView(
            name=self.room.name,
            kind=self.name.kind,
            agent_id=self.name.agent_id,
            humans=[p.identity for p in self.humans],
            agent_present=bool(self.agents),
            agents=[p.identity for p in self.agents],
            state=phase,
            grace_remaining_s=lifecycle.grace_remaining_s(now) if lifecycle else None,
            session_id=lifecycle.session_id if lifecycle else None,
            age_s=round(max(0.0, now.timestamp() - self.created_at), 1),
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
