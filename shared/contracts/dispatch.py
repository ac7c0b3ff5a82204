"""DispatchMetadata and RoomMetadata: what the backend tells a worker about a room.

Writer: the backend, when it creates a room (`CreateRoomRequest.metadata` and the metadata of
its one `RoomAgentDispatch`). Readers: the Voxie and spawner request handlers (which deployment,
which agent, for whom), the reconciler when it re-dispatches.

DispatchMetadata example (JSON in the dispatch's metadata):

    {"agent_id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44", "deployment": "prod",
     "kind": "test", "requested_by": "user:9b1d2c3e-0000-4000-8000-00000000a11c",
     "version": 3, "agent_version": 12}

    a test call of the working draft: {..., "version": "draft", "agent_version": 12}

`agent_id` is null for a Voxie creation session and set for a Voxie edit session.
`version` (agent rooms) is exactly what the call runs, fixed when the room was created: a
published version number (the published one for a plain call, any existing one for a test
call), or `"draft"` — the working draft. A publish or rollback after that never changes a call
already dispatched. Left out (a dispatch from before versions): the published version.
`agent_version` is the draft's row version (`agents.version`) when the room was created: a
spawner whose cached row is older reloads it, so a draft call never runs the draft from before
an edit (and the agent's status is never older than the backend's check).
`session_id` (agent rooms) is the `call_sessions` row the backend opened with the room, owner
and version already set, so a call is on its owner's list even if no agent ever takes it; the
worker that takes the job records its start and end on that row (`shared.contracts.sessions.
call_record`). Left out (a Voxie session, a dispatch made by hand): the worker opens the row.

`requested_by` is who the session is for. In a Voxie session it is always `user:<uuid>`: the
user who will own what the session creates (the Supabase user who asked; for the operator token
the user it must name with `owner_id`; for an edit session the agent's owner). Never the
operator's owner id (`OPERATOR_OWNER_ID`, which owns the agents the operator creates through
the API): Voxie builds for users only, and refuses `user:<nil uuid>` like any non-user. In a
test call it is the caller: `user:<uuid>` or `operator`. The participant identity in the
caller's join token is the caller: `user:<uuid>` or `operator`.

"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from shared.contracts.versions import RunTarget
from shared.logging import get_logger
from shared.naming import RoomKind, has_slug_shape
from shared.validation import describe_validation_error

log = get_logger(__name__)

MAX_METADATA_BYTES = 4_096

OPERATOR = "operator"
USER_PREFIX = "user:"
# The owner of agents made with the operator token (no Supabase user behind it).
OPERATOR_OWNER_ID = UUID("00000000-0000-0000-0000-000000000000")
# The one local development user (dev/test only): the owner of what `python -m voxie console`
# builds and the user the dashboard's one-click dev sign-in signs in as.
DEV_USER_ID = UUID("00000000-0000-4000-8000-00000000c0de")

M = TypeVar("M", bound=BaseModel)


class SessionKind(StrEnum):
    CREATION = "creation"
    TEST = "test"
    LIVE = "live"

    @property
    def room_kind(self) -> RoomKind:
        """The room a session of this kind runs in: Voxie's for creation, an agent's else."""
        return RoomKind.CREATION if self is SessionKind.CREATION else RoomKind.AGENT

    @classmethod
    def default_for(cls, room: RoomKind) -> SessionKind:
        """The kind of a session in a room whose dispatch no longer says (the reconciler's
        re-dispatch): a creation session, or a test call — never a live one by guess."""
        return cls.CREATION if room is RoomKind.CREATION else cls.TEST


def _deployment_name(value: str) -> str:
    if not has_slug_shape(value):
        raise ValueError("a deployment is lowercase letters, digits and single hyphens")
    return value


class DispatchMetadata(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    agent_id: UUID | None = None
    deployment: Annotated[str, AfterValidator(_deployment_name)]
    kind: SessionKind
    requested_by: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    agent_version: Annotated[int, Field(ge=1)] | None = None
    version: RunTarget | None = None
    session_id: UUID | None = None

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def parse(cls, raw: str | bytes | None) -> DispatchMetadata | None:
        return _parse(cls, raw, "dispatch metadata")


def user_identity(user_id: UUID) -> str:
    """The `requested_by` (and participant identity) of a Supabase user."""
    return f"{USER_PREFIX}{user_id}"


def names_a_user(user_id: UUID) -> bool:
    """Whether `user_id` can be a user's: every UUID but the operator's owner id (the nil UUID),
    which stands for the operator token, behind which there is no user. A user holding it would
    own, see and change the operator's agents; Voxie building for it would make agents that no
    user's dashboard shows."""
    return user_id != OPERATOR_OWNER_ID


def user_id_of(identity: str) -> UUID | None:
    """The Supabase user an identity names (`user:<uuid>`), or None for any other identity,
    `user:` with the operator's owner id included (see `names_a_user`)."""
    if not identity.startswith(USER_PREFIX):
        return None
    try:
        user_id = UUID(identity.removeprefix(USER_PREFIX))
    except ValueError:
        return None
    return user_id if names_a_user(user_id) else None


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
