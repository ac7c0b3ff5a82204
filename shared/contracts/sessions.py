"""Session records: one row per call, its transcript and its token usage.

Writers: the backend opens a test or live call's row when it creates the room (owner and version
known from then on, so a call no agent ever took is still its owner's), the spawner (test/live
calls) and Voxie (creation calls) record their job on it at start and close it at the end;
the backend finalises rows whose room closed or vanished (`room_closed`, `lost`; a row no job
ever took is `lost` and failed: `NO_AGENT`). Every row is built by `call_record`.
Readers: the backend (`GET /api/sessions[/{id}]`), the dashboard, billing.

Example session (the `call_sessions` row):

    {"id": "6a0e...", "agent_id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44",
     "owner_id": "9b1d2c3e-0000-4000-8000-00000000a11c",
     "room_name": "agent-3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44-p9s8d7f6g5h4",
     "kind": "test", "deployment": "prod", "participant_identity": "user:9b1d2c3e-...",
     "job_id": "AJ_xK2...", "agent_version": 3, "draft_version": null, "status": "ended",
     "started_at": "2026-11-21T09:00:00Z", "ended_at": "2026-11-21T09:03:12Z",
     "duration_s": 192.0, "end_reason": "grace_expired", "tool_calls": 2, "tool_errors": 0}

Example usage row: {"model": "gpt-realtime", "input_tokens": 5120, "output_tokens": 830,
"input_audio_tokens": 4100, "output_audio_tokens": 700, "audio_seconds": 181.5}

Example turn row (one spoken agent reply; `shared.turns` measures it, `call_turns` holds it):
{"turn": 2, "item_id": "item_Cx81...", "spoken_at": "2026-11-21T09:00:14.210Z",
"latency_s": 0.742, "model_ttfa_s": 0.388, "interrupted": false}
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.dispatch import DispatchMetadata, SessionKind
from shared.contracts.versions import DRAFT, RunTarget

MAX_TRANSCRIPT_ITEMS = 5_000
MAX_SUMMARY = 4_000
# Spoken agent replies kept per call: a call that talks longer is a runaway (MAX_CALL_DURATION_S
# stops it well before), and the newest are kept.
MAX_TURNS = 2_000


class SessionStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"
    FAILED = "failed"


class EndReason(StrEnum):
    GRACE_EXPIRED = "grace_expired"
    USER_HANGUP = "user_hangup"
    END_CALL = "end_call"
    MAX_DURATION = "max_duration"
    ERROR = "error"
    SHUTDOWN = "shutdown"
    ROOM_CLOSED = "room_closed"
    LOST = "lost"


# Ends the backend infers for a call whose worker has not said how it ended (its room closed,
# its agent vanished). The worker's own end may still come, late: spooled through a store
# outage and replayed. It knows why the call ended, so it replaces an inferred end; otherwise
# the first end wins (a late webhook cannot rewrite why a call ended).
INFERRED_ENDS = frozenset({EndReason.ROOM_CLOSED, EndReason.LOST})


def end_replaces(current: EndReason | None, incoming: EndReason) -> bool:
    """Whether a session that already ended with `current` takes the end `incoming`."""
    return current in INFERRED_ENDS and incoming not in INFERRED_ENDS


class NewCallSession(BaseModel):
    """What a worker knows when a job starts."""

    model_config = ConfigDict(extra="forbid")

    id: UUID | None = None  # callers may choose it, so a retried start cannot create two rows
    agent_id: UUID | None
    owner_id: UUID | None = None
    room_name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    kind: SessionKind
    deployment: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    participant_identity: Annotated[str, StringConstraints(max_length=256)] | None = None
    job_id: Annotated[str, StringConstraints(max_length=128)] | None = None
    # The agent version the call ran (migration 20261202000100), written by the spawner when
    # the session opens; None: the working draft (a test call), or recorded before versions.
    agent_version: Annotated[int, Field(ge=1)] | None = None
    # A test call of the working draft: the draft's row version it ran (agent_version is None).
    draft_version: Annotated[int, Field(ge=1)] | None = None


def call_record(
    room_name: str,
    metadata: DispatchMetadata | None,
    *,
    deployment: str,
    agent_id: UUID | None,
    owner_id: UUID | None,
    ran: RunTarget | None = None,
    draft_version: int | None = None,
    job_id: str | None = None,
) -> NewCallSession:
    """A call's row as opened: by the backend with the room (`metadata` is the dispatch it
    makes), and again by the worker that takes the job (the same id, now with its `job_id`).
    `ran` is what the call runs: a published version number, or the working draft at row
    version `draft_version`. The id is the dispatch's `session_id`, else a new one."""
    return NewCallSession(
        id=metadata.session_id if metadata and metadata.session_id else uuid4(),
        agent_id=agent_id,
        owner_id=owner_id,
        room_name=room_name,
        # A job dispatched without metadata (an agent room may be) runs as a test call.
        kind=metadata.kind if metadata else SessionKind.TEST,
        deployment=deployment,
        participant_identity=metadata.requested_by if metadata else None,
        job_id=job_id,
        agent_version=ran if isinstance(ran, int) else None,
        draft_version=draft_version if ran == DRAFT else None,
    )


# Why the backend failed a call whose row no job ever took (`job_id` unset) when its room
# ended: no worker accepted the dispatch (none registered, all full), or the caller left first.
NO_AGENT = "no agent took the call before its room ended"


class CallSession(NewCallSession):
    id: UUID
    status: SessionStatus
    started_at: datetime
    ended_at: datetime | None = None
    duration_s: float | None = None
    end_reason: EndReason | None = None
    error: str | None = None
    # When the call began to end while still `active` (migration 20261207000200): the caller
    # hung up, or the worker is writing its last records. Readers show "ending".
    ending_at: datetime | None = None
    # Counted from the transcript when it is written (a database trigger): `function_call`
    # items, and `function_call_output` items with `is_error`.
    tool_calls: Annotated[int, Field(ge=0)] = 0
    tool_errors: Annotated[int, Field(ge=0)] = 0


class TokenUsage(BaseModel):
    """Usage of one model in one session (from `AgentSession.usage`)."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    input_tokens: Annotated[int, Field(ge=0)] = 0
    output_tokens: Annotated[int, Field(ge=0)] = 0
    input_audio_tokens: Annotated[int, Field(ge=0)] = 0
    output_audio_tokens: Annotated[int, Field(ge=0)] = 0
    audio_seconds: Annotated[float, Field(ge=0)] = 0.0


class CallTurn(BaseModel):
    """One spoken agent reply and how long the caller waited for it.

    `latency_s`: the end of the caller's turn (their speech, or a message they typed) to the
    agent's first audio frame in the room; null for a reply nothing from the caller preceded
    (the greeting, a second reply in a row). A reply after a tool call waited from the caller's
    turn that led to it. `model_ttfa_s`: the model's own time to its first audio, as it reports
    it (a realtime model: response created to first audio delta; a pipeline: the LLM's first
    token plus the TTS's first byte); null where it reports none."""

    model_config = ConfigDict(extra="forbid")

    turn: Annotated[int, Field(ge=1)] = Field(description="1 for the call's first reply")
    item_id: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        default=None, description="the reply's item in the transcript"
    )
    spoken_at: datetime = Field(description="when the reply's first audio went to the room")
    latency_s: Annotated[float, Field(ge=0)] | None = None
    model_ttfa_s: Annotated[float, Field(ge=0)] | None = None
    interrupted: bool = False


class Transcript(BaseModel):
    """The session's chat history (LiveKit `ChatContext.to_dict()` items) and its summary."""

    model_config = ConfigDict(extra="forbid")

    session_id: UUID
    items: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_TRANSCRIPT_ITEMS)
    summary: Annotated[str, StringConstraints(max_length=MAX_SUMMARY)] | None = None
