"""What a caller may reach — agents by id or slug, the live rooms of their agents — and the
save-time rules the API applies to a config.

Shared by the routes that name an agent (`/api/agents/…`, `/api/voxie/sessions`) and the room
views: one place decides how `{agent_id}` (a UUID or a slug) resolves, what anyone else's agent
looks like (a missing one), and whose rooms a user sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from backend.auth import Principal
from backend.problems import not_found, unprocessable
from backend.services import Services
from shared.addresses import AddressRefused, check_tool_destinations
from shared.contracts import AgentConfig, HttpTool
from shared.contracts.agent_config import ToolSpec
from shared.contracts.secrets import binding_problems
from shared.room_census import RoomState, room_states
from shared.store import InvalidInput, Page, UnreadableAgent
from shared.store.base import MAX_PAGE_SIZE, agent_from_row
from shared.validation import excerpt


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
        detail = f"no agent '{excerpt(ref)}': it is neither an agent id nor a slug ({exc})"
        raise not_found(detail) from None


async def check_tools(services: Services, tools: Sequence[ToolSpec], owner_id: UUID) -> None:
    """The save-time rules for an agent's tools, as Voxie checks them, for the agent's owner
    (not the caller: the operator may save a user's agent): each secret a header references is
    the owner's and bound to the tool's host, and each URL is public or exempt for this owner.
    Refused with 422 naming every reference that fails, or the first URL."""
    if not any(isinstance(tool, HttpTool) for tool in tools):
        return
    grants = await services.tools.grants(owner_id)
    if problems := binding_problems(tools, grants.secrets):
        raise unprocessable(f"tools: {'; '.join(problems)}")
    try:
        await check_tool_destinations(tools, allowlist=grants.allow, resolve=services.resolve)
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


async def visible_rooms(svc: Services, principal: Principal) -> list[RoomState]:
    """The rooms `principal` may see: the operator all; a user their own agents' rooms (an
    unreadable agent is still theirs) and the rooms they are in."""
    rooms = svc.rooms
    states = await room_states(rooms, await rooms.list_rooms())
    if principal.is_operator:
        return states
    page = await svc.store.list_agents(
        principal.user_id, limit=MAX_PAGE_SIZE, include_archived=True
    )
    own: set[UUID] = {agent.id for agent in counted(svc, page).items} | set(page.unreadable)
    return [
        s
        for s in states
        if s.name.agent_id in own or any(p.identity == principal.identity for p in s.humans)
    ]
