"""Agent versions: immutable snapshots of an agent's runnable config, and which one a call runs.

Writers: the store's publish (the backend's `POST /api/agents/{id}/versions`, Voxie's
`publish_agent`) and the database itself (an agent's first activation publishes version 1; the
migration back-filled version 1 of every active agent). Readers: the spawner (the snapshot a
call runs), the backend (`GET /api/agents/{id}/versions[/{n}]`, the diff), the dashboard.
The snapshot's fields are defined once, in SQL (`public.agent_runnable`); `RunnableConfig`
reads exactly those.

Example (`agent_versions` row, as `GET /api/agents/{id}/versions/3` returns it):

    {"agent_id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44", "version": 3,
     "config": {"name": "Clarence Coherence", "instructions": "You are Clarence, ...",
                "greeting": "Hi, this is Clarence.", "voice": "marin", "model": "gpt-realtime",
                "language": "en", "tools": [{"type": "builtin", "name": "end_call"}],
                "pipeline": "realtime", "summarize": false},
     "draft_version": 7, "published_by": "user:9b1d2c3e-0000-4000-8000-00000000a11c",
     "published_at": "2026-12-02T10:00:00Z", "note": "friendlier greeting"}

A call's target (`RunTarget`): a version number, or `"draft"` — the working draft, for a test
call that hears a change before it is published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.contracts.agent_config import AgentConfig, AgentFields, AgentStatus
from shared.validation import describe_validation_error

DRAFT: Literal["draft"] = "draft"
MAX_NOTE = 500
# Versions are Postgres integers.
MAX_VERSION = 2**31 - 1

VersionNumber = Annotated[int, Field(ge=1, le=MAX_VERSION)]
RunTarget = VersionNumber | Literal["draft"]
# Who published or rolled back: `user:<uuid>`, `operator`, or `platform`.
Actor = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE)]
PLATFORM = "platform"

# The AgentConfig fields a snapshot holds: everything the spawner reads to run a call.
RUNNABLE_FIELDS: tuple[str, ...] = (
    "name",
    "instructions",
    "greeting",
    "voice",
    "model",
    "language",
    "tools",
    "pipeline",
    "summarize",
)


class RunnableConfig(AgentFields):
    """The snapshot: the runnable fields, validated as an active agent's (instructions set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Not part of a snapshot; fixed so the inherited rules (active needs instructions) apply.
    slug: str = Field(default="snapshot", exclude=True)
    status: AgentStatus = Field(default=AgentStatus.ACTIVE, exclude=True)


class AgentVersion(BaseModel):
    """One published version of an agent (an `agent_versions` row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent_id: UUID
    version: VersionNumber
    config: RunnableConfig
    draft_version: Annotated[int, Field(ge=1)] = Field(
        description="the draft's row version the snapshot was taken from"
    )
    published_by: Actor
    published_at: datetime
    note: str = ""


class InvalidDraft(ValueError):
    """The draft cannot be published: it would not run."""


def runnable_fields(agent: AgentConfig) -> dict[str, Any]:
    """The agent's draft as a snapshot's fields (JSON values)."""
    return agent.model_dump(mode="json", include=set(RUNNABLE_FIELDS))


def check_publishable(agent: AgentConfig) -> RunnableConfig:
    """The draft as the snapshot a publish would store; InvalidDraft says why it cannot be."""
    try:
        return RunnableConfig.model_validate(runnable_fields(agent))
    except ValidationError as exc:
        raise InvalidDraft(
            f"the draft cannot be published: {describe_validation_error(exc)}"
        ) from None


def with_version(agent: AgentConfig, version: AgentVersion) -> AgentConfig:
    """What a call of `version` runs: the agent (identity, status) with the snapshot's fields."""
    fields = version.config.model_dump(mode="json")
    return AgentConfig.model_validate({**agent.model_dump(mode="json"), **fields})


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Field by field, in snapshot order: each field whose value differs, with both values."""
    return [
        {"field": name, "from": before.get(name), "to": after.get(name)}
        for name in RUNNABLE_FIELDS
        if before.get(name) != after.get(name)
    ]
