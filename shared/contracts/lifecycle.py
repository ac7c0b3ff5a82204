"""Agent lifecycle attributes: what a running agent says about its room, on its own participant.

Writer: the spawner (and Voxie), as participant attributes of the agent participant, updated on
every state change. Readers: the backend (`GET /api/rooms`, the reconciler, through
`ListParticipants`) and the dashboard (attributes arrive with the participant). LiveKit holds
them, so there is no second source of truth to drift.

Example (a spawner agent whose last human left 12 s ago, with a 60 s grace period):

    {"platform.state": "grace", "platform.agent_id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44",
     "platform.session_id": "6a0e2f4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b",
     "platform.deployment": "prod", "platform.grace_ends_at": "2026-11-21T09:04:00+00:00"}

Attribute values are strings (LiveKit's rule); `grace_ends_at` is set only in `grace`.
Parsing is tolerant: unknown or malformed values give None fields, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

PREFIX = "platform."


class LifecycleState(StrEnum):
    """empty → starting → active ⇄ grace → closing; `empty` until the first human arrives."""

    EMPTY = "empty"
    STARTING = "starting"
    ACTIVE = "active"
    GRACE = "grace"
    CLOSING = "closing"


class AgentLifecycle(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: LifecycleState
    agent_id: UUID | None = None
    session_id: UUID | None = None
    deployment: str | None = None
    grace_ends_at: datetime | None = None

    def to_attributes(self) -> dict[str, str]:
        """All keys, always: an empty string clears a value the previous state had set."""
        values = self.model_dump(mode="json")
        return {
            f"{PREFIX}{key}": "" if value is None else str(value) for key, value in values.items()
        }

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, str]) -> AgentLifecycle | None:
        """The lifecycle an agent published, or None when it published none (or garbage)."""
        values = {
            key.removeprefix(PREFIX): value or None
            for key, value in attributes.items()
            if key.startswith(PREFIX)
        }
        if not values.get("state"):
            return None
        try:
            return cls.model_validate(values)
        except ValidationError:
            return None

    def grace_remaining_s(self, now: datetime) -> float | None:
        if self.state is not LifecycleState.GRACE or self.grace_ends_at is None:
            return None
        return max(0.0, (self.grace_ends_at - now).total_seconds())
