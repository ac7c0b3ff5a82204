"""Agents as an operator looks them up: every owner's, by id or by a slug typed from memory.

The seeds' `clarence_coherence` story: an operator asked for `clarence_coherence`, the agent was
stored as `clarence-coherence`, and the answer was a bare "agent not found". Here a slug is
normalised first (`shared.naming.normalize_slug`: `clarence_coherence` and `Clarence Coherence`
find `clarence-coherence`), and a slug that matches nothing answers with the closest known ones
(`shared.naming.closest_slugs`, the hint the API gives too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.contracts import AgentConfig
from shared.naming import closest_slugs, normalize_slug
from shared.store import AgentStore
from shared.store.base import MAX_PAGE_SIZE


@dataclass(frozen=True, slots=True)
class Fleet:
    """Every stored agent: those that pass the contract, and the ids of rows that do not."""

    agents: list[AgentConfig]
    unreadable: list[UUID]


@dataclass(frozen=True, slots=True)
class SlugMatch:
    query: str
    canonical: str
    found: list[AgentConfig]  # one per owner that uses the slug
    suggestions: list[str]  # when nothing is found: the slugs the query most likely meant

    @property
    def hint(self) -> str | None:
        if self.found or not self.suggestions:
            return None
        return "did you mean " + " or ".join(f"'{s}'" for s in self.suggestions) + "?"


async def fleet(
    store: AgentStore, *, include_archived: bool = True, search: str | None = None
) -> Fleet:
    """Every owner's agents, page by page (newest first); with `search`, those it matches
    (`shared.store.search`: name, slug or voice, or an owner-id prefix), found by the database."""
    agents: list[AgentConfig] = []
    unreadable: list[UUID] = []
    offset = 0
    while True:
        page = await store.list_agents(
            None,
            limit=MAX_PAGE_SIZE,
            offset=offset,
            include_archived=include_archived,
            search=search,
        )
        agents += page.items
        unreadable += page.unreadable
        offset += page.limit
        if offset >= page.total:
            return Fleet(agents, unreadable)


def find_slug(query: str, agents: Sequence[AgentConfig]) -> SlugMatch:
    """The agents whose slug is `query` once normalised, or the closest slugs if none is."""
    canonical = normalize_slug(query)
    found = [agent for agent in agents if agent.slug == canonical]
    suggestions = [] if found else closest_slugs(canonical, {a.slug for a in agents})
    return SlugMatch(query, canonical, found, suggestions)


def summary(agent: AgentConfig) -> dict[str, Any]:
    """The columns of `agents list`, as JSON values named as the API names them: `version` is
    the draft's revision (every save), `published_version` what plain calls run (null: never
    published)."""
    return {
        "id": str(agent.id),
        "slug": agent.slug,
        "name": agent.name,
        "owner_id": str(agent.owner_id),
        "status": agent.status.value,
        "version": agent.version,
        "published_version": agent.published_version,
        "has_unpublished_changes": agent.has_unpublished_changes,
        "updated_at": agent.updated_at.isoformat(),
    }
