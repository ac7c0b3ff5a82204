"""Voxie's own admission, after the shared routing rule accepted a job: pure functions of the
job's metadata, testable without a configured server.

Voxie runs creation (and edit) sessions requested by a user — `user:<uuid>`, who owns what the
session builds. Anything else is refused for good (`terminate=True`): no Voxie should run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shared.contracts import SessionKind
from shared.routing import Decision
from voxie.draft import NotAnOwner, owner_id_from


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why Voxie does not run a job the shared routing accepted."""

    reason: str


def admit(decision: Decision) -> UUID | Refusal:
    """The owner of what the session builds, or why Voxie refuses the job."""
    metadata = decision.metadata
    if metadata is None:
        return Refusal("the dispatch carries no metadata")
    if metadata.kind is not SessionKind.CREATION:
        return Refusal(f"Voxie runs creation sessions, not '{metadata.kind}'")
    try:
        return owner_id_from(metadata.requested_by)
    except NotAnOwner as exc:
        return Refusal(str(exc))
