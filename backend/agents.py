"""The agents a caller may reach, and the save-time rules the API applies to a config.

Shared by the routes that name an agent (`/api/agents/…`, `/api/voxie/sessions`): one place
decides how `{agent_id}` (a UUID or a slug) resolves and what anyone else's agent looks like
(a missing one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from backend.auth import Principal
from backend.problems import not_found, unprocessable
from backend.services import Services
from shared.addresses import AddressRefused, check_tool_destinations
from shared.contracts import AgentConfig
from shared.contracts.agent_config import ToolSpec
from shared.store import InvalidInput, Page, UnreadableAgent
from shared.store.base import agent_from_row


async def find_agent(
    services: Services, principal: Principal, ref: str, owner: UUID | None = None
) -> AgentConfig:
    """The caller's agent by id or slug; NotFound (404) for anyone else's, and for a `ref` that
    is neither an id nor a slug (no agent can have it)."""
    try:
        agent_id = UUID(ref)
    except ValueError:
        agent_id = None
    try:
        if agent_id is not None:
            return await services.store.get_agent(agent_id, owner_id=principal.owner_scope)
        slug_owner = principal.user_id or owner or principal.owner_id
        return await services.store.get_agent_by_slug(slug_owner, ref)
    except UnreadableAgent:
        raise
    except InvalidInput as exc:
        detail = f"no agent '{ref[:64]}': it is neither an agent id nor a slug ({exc})"
        raise not_found(detail) from None


async def check_tools(services: Services, tools: Sequence[ToolSpec]) -> None:
    """Voxie's save-time rule for tool URLs (same guard, same allowlist): refused with 422."""
    try:
        await check_tool_destinations(
            tools, allowlist=services.settings.tool_http_allowlist, resolve=services.resolve
        )
    except AddressRefused as exc:
        raise unprocessable(f"tools: {exc}") from None


def counted(services: Services, page: Page[Any]) -> Page[Any]:
    """`page`, with the rows it left out counted (each was logged with its id by the store)."""
    if page.unreadable:
        services.metrics.unreadable_rows.labels("agents").inc(len(page.unreadable))
    return page


def raw_record(row: dict[str, Any]) -> dict[str, Any]:
    """The operator's view of a stored agent: the row as stored, and why it is unreadable."""
    try:
        agent_from_row(row)
        problem = None
    except UnreadableAgent as exc:
        problem = exc.reason
    return {"agent_id": row["id"], "problem": problem, "row": row}
