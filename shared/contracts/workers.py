"""Worker heartbeats: which LiveKit Agents workers are registered now, and whether they have room.

livekit-server has no API that lists the workers registered under an agent name, and it drops a
dispatch launched while none is registered, or while every one is full, without retrying it
(see DESIGN.md, "Dispatch, latency and capacity facts"). So each worker says so itself.

Writer: every worker replica (`shared.worker.start_heartbeat`), into the store's
`worker_heartbeats` (deploy/supabase/migrations/*_worker_heartbeats.sql): once it has registered
with LiveKit, again whenever its sessions or availability change, and every
WORKER_HEARTBEAT_INTERVAL_S otherwise; it deletes its row when it stops. A row counts while
`expires_at` (three intervals after its last write, by the database's clock) is ahead.

Readers: the backend — admission refuses a room at once when no worker of its kind is alive or
every live one is full (`Fleet.refusal`), the reconciler re-dispatches a room whose dispatch was
dropped as soon as a worker with room appears (`WorkerHeartbeat.available_since`), `/readyz`
counts them (`Fleet.counts`); and through `/readyz` the launcher, which says "ready" once both
workers are alive. Example row:

    {"worker_id": "AW_x3Lr9", "agent_name": "spawner-dev", "role": "spawner",
     "deployment": "dev", "active_sessions": 3, "max_sessions": 16, "available": true,
     "draining": false, "registered_at": "2026-12-07T21:00:00+00:00",
     "available_since": "2026-12-07T21:04:10+00:00", "last_seen": "2026-12-07T21:05:02+00:00",
     "expires_at": "2026-12-07T21:05:08+00:00"}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.naming import WorkerRole


class WorkerHeartbeat(BaseModel):
    """One worker's last word, as stored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    worker_id: str = Field(min_length=1, max_length=128)
    agent_name: str = Field(min_length=1, max_length=128)
    role: WorkerRole
    deployment: str = Field(min_length=1, max_length=64)
    active_sessions: int = Field(ge=0)
    max_sessions: int = Field(ge=1)
    # Below its load threshold and not draining: LiveKit would offer it a job.
    available: bool
    draining: bool = False
    registered_at: datetime
    # Since when it has been available without a break (null while full or draining): a room
    # whose dispatch is older than this was dropped or refused while it had no room.
    available_since: datetime | None = None
    last_seen: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    """What a worker writes with each heartbeat (the database adds the times)."""

    worker_id: str
    agent_name: str
    role: WorkerRole
    deployment: str
    active_sessions: int
    max_sessions: int
    available: bool
    draining: bool

    def arguments(self, ttl_s: float) -> dict[str, object]:
        """The arguments of the SQL function `worker_heartbeat`, by name (both stores)."""
        return {
            "p_worker_id": self.worker_id,
            "p_agent_name": self.agent_name,
            "p_role": self.role.value,
            "p_deployment": self.deployment,
            "p_active_sessions": self.active_sessions,
            "p_max_sessions": self.max_sessions,
            "p_available": self.available,
            "p_draining": self.draining,
            "p_ttl_s": ttl_s,
        }


class Shortage(StrEnum):
    """Why no worker can take a room now."""

    NO_WORKER = "no-agent-worker"
    ALL_BUSY = "agent-workers-busy"


# What the caller is told (the dashboard shows the same sentences for the same problem types).
SHORTAGE_MESSAGES: dict[Shortage, str] = {
    Shortage.NO_WORKER: "No agent worker is running: nothing could take this call. Start one "
    "(scripts/start runs both), or try again in a moment",
    Shortage.ALL_BUSY: "All agent workers are busy — try again in a moment",
}


@dataclass(frozen=True, slots=True)
class RoleCount:
    alive: int
    available: int


@dataclass(frozen=True, slots=True)
class Fleet:
    """The live workers of one deployment, as the backend dispatches to them: only those
    registered under the agent name it dispatches to, of its own deployment."""

    workers: tuple[WorkerHeartbeat, ...]

    @classmethod
    def of(
        cls,
        heartbeats: Sequence[WorkerHeartbeat],
        *,
        deployment: str,
        agent_names: dict[WorkerRole, str],
    ) -> Fleet:
        return cls(
            tuple(
                w
                for w in heartbeats
                if w.deployment == deployment and agent_names.get(w.role) == w.agent_name
            )
        )

    def of_role(self, role: WorkerRole) -> list[WorkerHeartbeat]:
        return [w for w in self.workers if w.role is role]

    def counts(self) -> dict[WorkerRole, RoleCount]:
        return {
            role: RoleCount(
                alive=len(workers := self.of_role(role)),
                available=sum(1 for w in workers if w.available),
            )
            for role in WorkerRole
        }

    def refusal(self, role: WorkerRole) -> Shortage | None:
        """Why a room for `role` would get no agent now, or None if a worker has room."""
        workers = self.of_role(role)
        if not workers:
            return Shortage.NO_WORKER
        if not any(w.available for w in workers):
            return Shortage.ALL_BUSY
        return None

    def available_since(self, role: WorkerRole) -> datetime | None:
        """The latest moment a worker of `role` gained room (registered, or a place freed),
        among those that have room now; None if none has."""
        return max(
            (w.available_since for w in self.of_role(role) if w.available_since is not None),
            default=None,
        )
