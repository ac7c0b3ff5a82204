"""Room messages: what the agents tell the browser, as LiveKit text streams on fixed topics.

Writers: the spawner (`spawner.error`) and Voxie (`voxie.draft`, `voxie.agent_saved`,
`voxie.agent_version`), through
`room.local_participant.send_text(json, topic=...)`. Reader: the dashboard, which registers a
text stream handler per topic. Each payload is one JSON object. A spawner job that fails
before its agent joins the room (unknown or archived agent, invalid config, store down) sends
`spawner.error` as a reliable data packet with that topic through the server API (`SendData`)
instead: the dashboard also listens for data packets on that topic.

Examples:

    topic "spawner.error":
      {"code": "agent_archived", "message": "This agent was archived and can no longer be run.",
       "agent_id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44"}

    topic "voxie.draft" (on every change of the draft):
      {"agent_id": "3f2b8c1e-...", "version": 2, "status": "draft",
       "fields": {"name": "Clarence", "slug": "clarence", "voice": "marin", "greeting": "Hi!"},
       "missing": ["instructions"]}

    topic "voxie.agent_saved":
      {"agent_id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44", "slug": "clarence", "name": "Clarence"}

    topic "voxie.agent_version" (after every save and publish: which version calls run, and
    whether the saved draft differs from it, i.e. waits to be published):
      {"agent_id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44", "published_version": 3,
       "has_unpublished_changes": true}

One message comes from the backend, which has no participant in the room: it sends it with
RoomService `SendData` (a reliable data packet with that topic, not a text stream), just before
it closes the room, so the dashboard can say why the call ended:

    topic "platform.room_closed":
      {"code": "agent_unavailable",
       "message": "No agent could be started for this call. Please try again in a minute."}
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints

SPAWNER_ERROR = "spawner.error"
VOXIE_DRAFT = "voxie.draft"
VOXIE_AGENT_SAVED = "voxie.agent_saved"
VOXIE_AGENT_VERSION = "voxie.agent_version"
PLATFORM_ROOM_CLOSED = "platform.room_closed"


class SpawnerErrorCode(StrEnum):
    AGENT_NOT_FOUND = "agent_not_found"
    AGENT_ARCHIVED = "agent_archived"
    AGENT_NOT_ACTIVE = "agent_not_active"
    # Active, but nothing published yet (a plain call runs the published version).
    AGENT_NOT_PUBLISHED = "agent_not_published"
    # The version the call was dispatched with does not exist.
    VERSION_NOT_FOUND = "version_not_found"
    INVALID_CONFIG = "invalid_config"
    STORE_UNAVAILABLE = "store_unavailable"
    # No model endpoint is configured (no OPENAI_API_KEY): a dev platform started without one.
    NO_MODEL_CONFIGURED = "no_model_configured"
    # The model endpoint failed for good during the call (unreachable, refused, dropped and
    # not reconnected): the call ended.
    MODEL_UNAVAILABLE = "model_unavailable"
    INTERNAL = "internal"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> str:
        return self.model_dump_json()


class SpawnerError(_Message):
    code: SpawnerErrorCode
    # Shown to the user as is: plain words, no internals.
    message: Annotated[str, StringConstraints(max_length=500)]
    agent_id: UUID | None = None


class DraftUpdate(_Message):
    agent_id: UUID | None = None
    version: int | None = None
    status: str = "draft"
    fields: dict[str, Any]
    missing: list[str]


class AgentSaved(_Message):
    agent_id: UUID
    slug: str
    name: str


class LiveVersion(_Message):
    agent_id: UUID
    # None: nothing is published yet (the agent is still a draft).
    published_version: int | None
    has_unpublished_changes: bool


class RoomClosedCode(StrEnum):
    AGENT_UNAVAILABLE = "agent_unavailable"
    CLOSED_BY_OPERATOR = "closed_by_operator"


class RoomClosed(_Message):
    code: RoomClosedCode
    # Shown to the user as is.
    message: Annotated[str, StringConstraints(max_length=500)]
