"""`GET /api/agents/{agent_id}/analytics` over HTTP, through either store: the figures of the
known history (tests/support/call_history.py), costs from MODEL_PRICES, who may read them, and
every refused parameter."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from backend.app import create_app
from shared.contracts import AgentStatus
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, BOB, OPERATOR, AgentFactory, as_user, serving
from tests.support import call_history as history

WINDOW = "from=2026-11-01T00:00:00Z&to=2026-11-04T00:00:00Z"
PRICES = {"gpt-realtime": {"input": 4, "output": 16, "input_audio": 32, "output_audio": 64}}


@pytest.fixture
async def db(database_url: str) -> Any:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def test_figures_through_either_store_match_the_hand_computed_ones(
    any_store_settings: Settings,
    store: PostgresStore,
    db: asyncpg.Connection,
    make_agent: AgentFactory,
) -> None:
    agent, other = await make_agent(ALICE), await make_agent(ALICE)
    await history.seed(db, store, agent.id, ALICE, other.id)
    alice = as_user(ALICE, any_store_settings)
    async with serving(create_app(any_store_settings, reconcile=False)) as client:
        by_version = await client.get(f"/api/agents/{agent.id}/analytics?{WINDOW}", headers=alice)
        assert by_version.status_code == 200, by_version.text
        body = history.rounded(by_version.json())
        assert body["groups"] == history.BY_VERSION and body["total"] == history.TOTAL
        assert body["agent_id"] == str(agent.id) and body["group_by"] == "version"
        assert body["from"] == "2026-11-01T00:00:00Z" and body["priced"] is False

        # By slug, by day, with the window given as dates and in another zone.
        by_day = await client.get(
            f"/api/agents/{agent.slug}/analytics?group_by=day&from=2026-11-01"
            "&to=2026-11-04T01:00:00%2B01:00",
            headers=alice,
        )
        assert by_day.status_code == 200, by_day.text
        assert history.rounded(by_day.json()["groups"]) == history.BY_DAY


async def test_costs_follow_the_price_table(
    settings: Settings, store: PostgresStore, db: asyncpg.Connection, make_agent: AgentFactory
) -> None:
    agent, other = await make_agent(ALICE), await make_agent(ALICE)
    await history.seed(db, store, agent.id, ALICE, other.id)
    priced = settings.model_copy(
        update={"model_prices": Settings(model_prices=PRICES).model_prices}
    )
    async with serving(create_app(priced, reconcile=False)) as client:
        answer = await client.get(f"/api/agents/{agent.id}/analytics?{WINDOW}", headers=OPERATOR)
    body = answer.json()
    assert body["priced"] is True
    draft, v1, v2 = body["groups"]
    # v1, realtime: 200 text in x 4 + 800 audio in x 32 + 100 text out x 16 + 400 audio out x 64
    # per 1M tokens = 0.0008 + 0.0256 + 0.0016 + 0.0256.
    assert v1["tokens"][0]["cost_usd"] == pytest.approx(0.0536)
    assert v1["cost_usd"] == pytest.approx(0.0536)
    # draft: 100 text in, 10 text out (no audio tokens, so no audio price is needed).
    assert draft["cost_usd"] == pytest.approx(100 * 4e-6 + 10 * 16e-6)
    # v2 also used gpt-4o-mini, which has no price: its cost and the group's are unknown.
    mini, realtime = v2["tokens"]
    assert mini["model"] == "gpt-4o-mini" and mini["cost_usd"] is None
    assert realtime["cost_usd"] == pytest.approx(500 * 4e-6 + 1500 * 32e-6 + 100 * 16e-6 + 0.0576)
    assert v2["cost_usd"] is None and body["total"]["cost_usd"] is None


async def test_only_the_owner_and_the_operator_see_an_agents_analytics(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    agent = await make_agent(ALICE)
    url = f"/api/agents/{agent.id}/analytics"
    assert (await client.get(url, headers=as_user(ALICE))).status_code == 200
    assert (await client.get(url, headers=OPERATOR)).status_code == 200
    theirs = await client.get(url, headers=as_user(BOB))
    assert theirs.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    assert (
        await client.get(f"/api/agents/{agent.slug}/analytics", headers=as_user(BOB))
    ).status_code == 404
    assert (await client.get(url)).status_code == 401
    assert (
        await client.get(f"/api/agents/{uuid4()}/analytics", headers=OPERATOR)
    ).status_code == 404
    archived = await make_agent(ALICE, status=AgentStatus.ARCHIVED)
    gone = await client.get(f"/api/agents/{archived.id}/analytics", headers=as_user(ALICE))
    assert gone.status_code == 404


async def test_the_default_window_is_the_last_30_days(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    agent = await make_agent(ALICE)
    body = (await client.get(f"/api/agents/{agent.id}/analytics", headers=OPERATOR)).json()
    assert body["group_by"] == "version" and body["groups"] == []
    assert body["total"]["calls"] == 0
    start, end = datetime.fromisoformat(body["from"]), datetime.fromisoformat(body["to"])
    assert (end - start).days == 30


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ("group_by=week", 400, "invalid-parameter"),
        ("from=yesterday", 400, "invalid-parameter"),
        ("from=1700000000", 400, "invalid-parameter"),
        ("to=2026-13-01", 400, "invalid-parameter"),
        ("from=2026-11-01&from=2026-11-02", 400, "bad-request"),
        ("from=2026-11-04&to=2026-11-01", 422, "invalid-window"),
        ("from=2026-11-01&to=2026-11-01", 422, "invalid-window"),
        ("from=2025-01-01&to=2026-11-01", 422, "invalid-window"),
    ],
)
async def test_bad_parameters_are_problems(
    client: httpx.AsyncClient, make_agent: AgentFactory, params: str, status: int, code: str
) -> None:
    agent = await make_agent(ALICE)
    answer = await client.get(f"/api/agents/{agent.id}/analytics?{params}", headers=OPERATOR)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == f"urn:voxie:problem:{code}"
