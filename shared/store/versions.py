"""What both stores share for agent versions: the rows, the refusals the database raises in the
versions migration's functions (by SQLSTATE), and the checks made before a publish.

The writes are SQL functions (`publish_agent_version`, `rollback_agent_version`): each locks
the agent's row, so publishes and rollbacks from any number of backend replicas queue per agent,
and the primary key (agent_id, version) refuses a duplicate number should anything get past it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from shared.contracts import AgentConfig
from shared.contracts.versions import MAX_NOTE, AgentVersion, InvalidDraft, check_publishable
from shared.store.base import agent_from_row, parse_uuid
from shared.store.errors import (
    Conflict,
    DraftNotPublishable,
    InvalidInput,
    NotFound,
    NothingToPublish,
    StoreError,
)
from shared.validation import describe_validation_error

# Columns of `agent_versions`, as a select list.
VERSION_COLUMNS = "agent_id,version,config,draft_version,published_by,published_at,note"


def version_from_row(row: Any) -> AgentVersion:
    try:
        return AgentVersion.model_validate(dict(row))
    except ValidationError as exc:
        detail = describe_validation_error(exc)
        raise InvalidInput(f"a stored version fails validation: {detail}") from None


def publishable(agent: AgentConfig) -> None:
    """The draft would run if published, else DraftNotPublishable (nothing is written)."""
    try:
        check_publishable(agent)
    except InvalidDraft as exc:
        raise DraftNotPublishable(str(exc)) from None


def check_version_number(version: int) -> None:
    if version < 1:
        raise InvalidInput(f"a version is a number from 1, not {version}")


def version_error(code: str | None, message: str, detail: str | None) -> StoreError | None:
    """The store error for a refusal of the versions functions, or None for any other code."""
    if code in ("VXA01", "VXA02"):
        return NotFound(message)
    if code == "VXV01":
        return NotFound(message)
    if code == "VXP01":
        return NothingToPublish(message)
    if code == "VXP02":
        current = int(detail) if detail and detail.isdigit() else None
        return Conflict(message, current_version=current)
    return None


def publish_params(
    agent: AgentConfig, owner_id: UUID | None, published_by: str, note: str
) -> dict[str, Any]:
    """The publish function's arguments: the draft at the version that was checked."""
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"a note is at most {MAX_NOTE} characters")
    return {
        "p_agent": str(agent.id),
        "p_owner": str(owner_id) if owner_id else None,
        "p_draft_version": agent.version,
        "p_published_by": published_by,
        "p_note": note,
    }


class VersionWrites(ABC):
    """Publish and rollback, the same on both stores: the checks made here, then the versions
    migration's function through the store's `_version_call`."""

    @abstractmethod
    async def _version_call(self, function: str, params: dict[str, Any]) -> Any: ...

    @abstractmethod
    async def get_agent(
        self, agent_id: UUID | str, *, owner_id: UUID | None = None
    ) -> AgentConfig: ...

    async def publish_version(
        self,
        agent_id: UUID | str,
        *,
        published_by: str,
        note: str = "",
        owner_id: UUID | None = None,
    ) -> AgentVersion:
        agent = await self.get_agent(agent_id, owner_id=owner_id)
        publishable(agent)
        params = publish_params(agent, owner_id, published_by, note)
        return version_from_row(await self._version_call("publish_agent_version", params))

    async def rollback_version(
        self,
        agent_id: UUID | str,
        version: int,
        *,
        rolled_back_by: str,
        owner_id: UUID | None = None,
    ) -> AgentConfig:
        agent_uuid = parse_uuid(agent_id, "agent id")
        check_version_number(version)
        params = {
            "p_agent": str(agent_uuid),
            "p_owner": str(owner_id) if owner_id else None,
            "p_version": version,
            "p_by": rolled_back_by,
        }
        return agent_from_row(await self._version_call("rollback_agent_version", params))
