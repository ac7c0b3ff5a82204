"""Both stores write exactly what they validated, and one row that fails the contract (written
around it, here by SQL) never breaks a list, yet stays readable, archivable and deletable."""

from __future__ import annotations

import json
import math
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from pydantic import HttpUrl
from structlog.testing import capture_logs

from shared.contracts import AgentPatch, AgentStatus, HttpTool, NewAgent, NewCallSession
from shared.store import AgentStore, InvalidInput, NotFound, UnreadableAgent
from tests.shared.store.test_contract import OWNER, count, new_agent

NON_FINITE = [math.inf, -math.inf, math.nan]
# A tool whose schema lost its number on the way in: `maximum: null` is not JSON Schema.
POISONED_TOOLS = [
    {
        "type": "http",
        "name": "quote",
        "description": "Quote a price.",
        "parameters": {"type": "object", "properties": {"n": {"type": "number", "maximum": None}}},
        "url": "https://api.example.com/quote",
    }
]


def smuggled(number: float) -> HttpTool:
    """A tool holding a non-finite number, built without validation (as a bug would)."""
    return HttpTool.model_construct(
        type="http",
        name="quote",
        description="Quote a price.",
        parameters={"type": "object", "properties": {"n": {"maximum": number}}},
        method="POST",
        url=HttpUrl("https://api.example.com/quote"),
        headers={},
        timeout_s=10.0,
    )


async def insert_poisoned(db: asyncpg.Connection, slug: str = "poisoned") -> UUID:
    agent_id: UUID = await db.fetchval(
        "insert into public.agents (owner_id, slug, name, tools) values ($1, $2, 'Poisoned', $3)"
        " returning id",
        OWNER,
        slug,
        json.dumps(POISONED_TOOLS),
    )
    return agent_id


@pytest.mark.parametrize("number", NON_FINITE, ids=["inf", "-inf", "nan"])
async def test_a_value_that_cannot_round_trip_is_refused_and_nothing_is_written(
    store: AgentStore, db: asyncpg.Connection, number: float
) -> None:
    valid = new_agent()
    poisoned = NewAgent.model_construct(**{**dict(valid), "tools": [smuggled(number)]})
    with pytest.raises(InvalidInput, match="finite"):
        await store.create_agent(poisoned)
    assert await count(db, "agents") == 0

    agent = await store.create_agent(valid)
    patch = AgentPatch.model_construct(tools=[smuggled(number)])
    patch.model_fields_set.add("tools")
    with pytest.raises(InvalidInput, match="parameters"):
        await store.update_agent(agent.id, patch, expected_version=1)
    assert await store.get_agent(agent.id) == agent

    session = await store.start_session(
        NewCallSession(
            agent_id=agent.id,
            room_name=f"agent-{agent.id}-abcdefgh",
            kind="test",
            deployment="test",
        )
    )
    with pytest.raises(InvalidInput, match="finite"):
        await store.write_transcript(session.id, [{"role": "user", "score": number}])
    assert await count(db, "call_transcripts") == 0


async def test_an_unreadable_row_is_skipped_in_lists_and_logged_with_its_id(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    good = await store.create_agent(new_agent())
    bad = await insert_poisoned(db)
    with capture_logs() as logs:
        page = await store.list_agents(None)
    assert [a.id for a in page.items] == [good.id]
    assert page.unreadable == (bad,) and page.total == 2
    assert {"event": "agent_row_unreadable", "agent_id": str(bad)}.items() <= logs[0].items()
    owner_page = await store.list_agents(OWNER, include_archived=True)
    assert owner_page.unreadable == (bad,)


async def test_an_unreadable_row_is_refused_as_a_config_but_readable_raw(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    bad = await insert_poisoned(db)
    with pytest.raises(UnreadableAgent, match="not valid JSON Schema") as caught:
        await store.get_agent(bad)
    assert caught.value.agent_id == bad
    with pytest.raises(UnreadableAgent):
        await store.get_agent_by_slug(OWNER, "poisoned")
    with pytest.raises(UnreadableAgent):
        await store.update_agent(bad, AgentPatch(name="Fixed"), expected_version=1)

    raw: dict[str, Any] = await store.get_agent_row(bad)
    assert raw["id"] == str(bad) and raw["tools"] == POISONED_TOOLS
    assert raw["status"] == "draft" and isinstance(raw["created_at"], str)
    with pytest.raises(NotFound):
        await store.get_agent_row(bad, owner_id=UUID(int=1))


async def test_an_unreadable_row_can_be_archived_and_deleted(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    bad = await insert_poisoned(db)
    with pytest.raises(UnreadableAgent):
        await store.archive_agent(bad)
    assert (await store.get_agent_row(bad))["status"] == AgentStatus.ARCHIVED.value
    assert (await store.list_agents(None)).unreadable == ()  # archived rows are not listed

    await store.delete_agent(bad)
    with pytest.raises(NotFound):
        await store.get_agent_row(bad)
    assert await count(db, "agents") == 0
