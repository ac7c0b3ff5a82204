"""Call analytics through both stores, over the real database: the figures of a known history
(tests/support/call_history.py) against the values worked out by hand there."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from postgrest.exceptions import APIError
from supabase import acreate_client

from shared.contracts.analytics import AnalyticsWindow, CallAnalytics, GroupBy
from shared.store import AgentStore, InvalidInput
from shared.store.analytics import CALL_SQL, FUNCTION, json_arguments
from tests.shared.store.conftest import JWT_SECRET
from tests.shared.store.test_contract import OWNER, new_agent
from tests.support import call_history as history
from tests.support.postgrest import PostgrestDouble, make_jwt


async def seeded(db: asyncpg.Connection, store: AgentStore) -> tuple[UUID, dict[str, UUID]]:
    agent = await store.create_agent(new_agent())
    other = await store.create_agent(new_agent(slug="someone-else"))
    ids = await history.seed(db, store, agent.id, OWNER, other.id)
    return agent.id, ids


def as_json(report: CallAnalytics) -> dict[str, Any]:
    """The report as the API sends it, floats rounded past the interpolation's last bits."""
    data: dict[str, Any] = history.rounded(report.model_dump(mode="json"))
    return data


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [(GroupBy.VERSION, history.BY_VERSION), (GroupBy.DAY, history.BY_DAY)],
)
async def test_figures_match_the_hand_computed_ones(
    store: AgentStore, db: asyncpg.Connection, group_by: GroupBy, expected: list[dict[str, Any]]
) -> None:
    agent_id, _ = await seeded(db, store)
    report = as_json(await store.call_analytics(agent_id, history.window(group_by)))
    assert report["groups"] == expected
    assert report["total"] == history.TOTAL
    assert report["group_by"] == group_by.value and report["priced"] is False
    assert report["from"] == "2026-11-01T00:00:00Z" and report["to"] == "2026-11-04T00:00:00Z"


async def test_an_agent_without_calls_has_no_groups_and_a_zero_total(store: AgentStore) -> None:
    agent = await store.create_agent(new_agent())
    report = await store.call_analytics(agent.id, history.window(GroupBy.DAY))
    assert report.groups == []
    assert report.total.calls == 0 and report.total.tokens == []
    assert report.total.median_duration_s is None and report.total.tool_error_rate is None
    unknown = await store.call_analytics(uuid4(), history.window(GroupBy.VERSION))
    assert unknown.groups == [] and unknown.total.calls == 0


async def test_tool_counts_follow_the_transcript_as_it_is_rewritten(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    _, ids = await seeded(db, store)
    session = await store.get_session(ids["s1"])
    assert (session.tool_calls, session.tool_errors) == (2, 1)
    assert (await store.get_session(ids["s2"])).tool_calls == 0  # no transcript yet
    # A replayed end rewrites the transcript: the counts are the new transcript's.
    await store.write_transcript(ids["s1"], history.TOOL_ITEMS["s4"])
    session = await store.get_session(ids["s1"])
    assert (session.tool_calls, session.tool_errors) == (1, 1)
    # Items that are not objects (a hand-written row) count as nothing rather than failing.
    await db.execute(
        "update public.call_transcripts set items = '[1, \"x\", null]' where session_id = $1",
        ids["s1"],
    )
    session = await store.get_session(ids["s1"])
    assert (session.tool_calls, session.tool_errors) == (0, 0)


async def test_the_sql_function_refuses_a_bad_window_or_grouping(db: asyncpg.Connection) -> None:
    start, end = history.FROM, history.TO
    for args in ((start, end, "week"), (end, start, "day"), (start, start, "version")):
        with pytest.raises(asyncpg.InvalidParameterValueError):
            await db.fetchval(CALL_SQL, uuid4(), *args, [], [], [])


async def test_the_store_refuses_what_the_sql_function_refuses(store: AgentStore) -> None:
    # The window model already refuses these; a window built around it still meets the SQL's
    # own check, as InvalidInput from either store.
    window = AnalyticsWindow.model_construct(
        start=history.TO, end=history.FROM, group_by=GroupBy.DAY
    )
    with pytest.raises(InvalidInput):
        await store.call_analytics(uuid4(), window)


def test_the_window_is_bounded_and_defaults_to_the_last_30_days() -> None:
    with pytest.raises(ValueError, match="before"):
        AnalyticsWindow(start=history.TO, end=history.FROM)
    with pytest.raises(ValueError, match="366"):
        AnalyticsWindow(start=datetime(2025, 1, 1, tzinfo=UTC), end=history.TO)
    with pytest.raises(ValueError, match="time zone"):
        AnalyticsWindow(start=datetime(2026, 1, 1), end=history.TO)
    naive = AnalyticsWindow.ending(datetime(2026, 11, 4), None, GroupBy.DAY)
    assert naive.end == history.TO
    assert (naive.end - naive.start).days == 30


async def test_usage_rows_follow_their_sessions_agent_and_version(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    agent_id, ids = await seeded(db, store)
    keys = (
        "select agent_id, started_at, agent_version from public.token_usage where session_id = $1"
    )
    row = await db.fetchrow(keys, ids["s1"])
    assert row is not None and (row["agent_id"], row["agent_version"]) == (agent_id, 1)
    assert row["started_at"] == history.CALLS["s1"][0]
    # A session's version set after its usage was written (the copy follows) moves its tokens.
    await db.execute("update public.call_sessions set agent_version = 2 where id = $1", ids["s1"])
    report = await store.call_analytics(agent_id, history.window(GroupBy.VERSION))
    v1, v2 = (g for g in report.groups if g.version in (1, 2))
    assert v1.tokens == [] and {t.model for t in v2.tokens} == {history.MINI, history.REALTIME}
    # Its turns move with it: v1 keeps s2's one (0.7), v2 gains s1's two measured ones.
    assert (v1.turns, v1.p50_turn_latency_s) == (1, 0.7)
    assert v2.turns == 4
    # Deleting the agent unsets it on its sessions (their records stay) and on their usage.
    await store.delete_agent(agent_id)
    assert (
        await db.fetchval("select count(*) from public.token_usage where agent_id = $1", agent_id)
        == 0
    )
    assert (await store.call_analytics(agent_id, history.window(GroupBy.DAY))).total.calls == 0


async def test_users_cannot_call_the_analytics_function_directly(
    postgrest: PostgrestDouble, db: asyncpg.Connection, postgres_store: AgentStore
) -> None:
    """The backend scopes analytics to the caller's agents; the function itself is the
    service's, like the other functions."""
    agent_id, _ = await seeded(db, postgres_store)
    user = await acreate_client(
        postgrest.url, make_jwt(JWT_SECRET, role="authenticated", sub=str(OWNER))
    )
    try:
        params = json_arguments(agent_id, history.window(GroupBy.DAY))
        with pytest.raises(APIError) as caught:
            await user.rpc(FUNCTION, params).execute()
        assert caught.value.code == "42501"
    finally:
        await user.postgrest.aclose()
