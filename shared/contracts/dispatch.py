"""DispatchMetadata and RoomMetadata: what the backend tells a worker about a room.

Writer: the backend, when it creates a room (`CreateRoomRequest.metadata` and the metadata of
its one `RoomAgentDispatch`). Readers: the Voxie and spawner request handlers (which deployment,
which agent, for whom), the reconciler when it re-dispatches.

DispatchMetadata example (JSON in the dispatch's metadata):

    {"agent_id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44", "deployment": "prod",
     "kind": "test", "requested_by": "user:9b1d2c3e-0000-4000-8000-00000000a11c"}

`agent_id` is null for a Voxie creation session and set for a Voxie edit session.

`requested_by` is who the backend opened the room for, and so who owns what the session makes:
`user:<uuid>` for a Supabase user (the token's `sub`; that user owns the agents Voxie saves),
or `operator` for the operator token (no user: agents belong to `OPERATOR_OWNER_ID`). The
participant identity in the join token is the same string. `requester_user_id()` reads it.

RoomMetadata example (JSON in the room's metadata): {"agent_id": "3f2b8c1e-...-2a6c5d9e1b44"}

Parsing is tolerant: anything malformed is logged and gives None; the caller decides what a
missing value means (a worker rejects the job, the reconciler skips the room).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from shared.logging import get_logger
from shared.validation import describe_validation_error

log = get_logger(__name__)

MAX_METADATA_BYTES = 4_096

OPERATOR = "operator"
USER_PREFIX = "user:"
# The owner of agents made with the operator token (no Supabase user behind it).
OPERATOR_OWNER_ID = UUID("00000000-0000-0000-0000-000000000000")

M = TypeVar("M", bound=BaseModel)


class SessionKind(StrEnum):
    CREATION = "creation"
    TEST = "test"
    LIVE = "live"


class DispatchMetadata(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    agent_id: UUID | None = None
    deployment: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
    kind: SessionKind
    requested_by: Annotated[str, StringConstraints(min_length=1, max_length=256)]

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def parse(cls, raw: str | bytes | None) -> DispatchMetadata | None:
        return _parse(cls, raw, "dispatch metadata")


def user_identity(user_id: UUID) -> str:
    """The `requested_by` (and participant identity) of a Supabase user."""
    return f"{USER_PREFIX}{user_id}"


def requester_user_id(requested_by: str) -> UUID | None:
    """The Supabase user `requested_by` names, or None (the operator, or anything else)."""
    if not requested_by.startswith(USER_PREFIX):
        return None
    try:
        return UUID(requested_by.removeprefix(USER_PREFIX))
    except ValueError:
        return None


def requester_owner_id(requested_by: str) -> UUID | None:
    """Who owns what a session for `requested_by` creates; None when it names nobody known."""
    if requested_by == OPERATOR:
        return OPERATOR_OWNER_ID
    return requester_user_id(requested_by)


class RoomMetadata(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    agent_id: UUID

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def parse(cls, raw: str | bytes | None) -> RoomMetadata | None:
        return _parse(cls, raw, "room metadata")


def _parse(model: type[M], raw: str | bytes | None, what: str) -> M | None:
    if not raw:
        return None
    if len(raw) > MAX_METADATA_BYTES:
        log.warning("metadata_malformed", what=what, reason="too large", size=len(raw))
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("metadata_malformed", what=what, reason=describe_validation_error(exc))
        return None
