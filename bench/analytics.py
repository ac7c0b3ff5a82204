"""Call analytics on a million sessions: `python -m bench.analytics [--sessions 1000000]`.

Generates `--sessions` call sessions (one token_usage row each, a second model on a fifth of
them; one turn per 20 s of an ended call, at most 30, each with a latency) across `--agents`
agents in a local PostgreSQL (the embedded server, or TEST_DATABASE_URL's), all in SQL with
generate_series, spread over the last 400 days. One busy agent holds `--busy-share` of them
(default 5 %: about 125 calls a day); the rest share the others evenly. Then it times
`AgentStore.call_analytics` for the busy agent — the whole path the API takes: the SQL
function, JSON decoding and the contract — for group_by version and day over the last 30 and
365 days, and prints p50/p95 per query (target: p95 <= 100 ms). The REST path (SupabaseStore
through the PostgREST-compatible test server) is timed too, for its shape.
`--explain` prints each query's plan as run inside the function (auto_explain, ANALYZE).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from bench.spawner_support import bench_database
from bench.timing import measure, row
from shared.contracts.analytics import AnalyticsWindow, GroupBy
from shared.db.migrations import apply_migrations
from shared.logging import configure_logging
from shared.store import AgentStore
from shared.store.analytics import CALL_SQL, arguments
from shared.store.postgres import PostgresStore
from shared.store.supabase import SupabaseStore
from tests.support.postgrest import PostgrestDouble, make_jwt

JWT_SECRET = "bench-jwt-secret-with-at-least-32-characters"
SPREAD_DAYS = 400
BUSY_SLUG = "bench-agent-0"

# Seeded: the same history every run. The busy agent is the first of `agents`.
GENERATE = """
select setseed(0.42);

insert into public.agents (owner_id, slug, name, status)
select ('00000000-0000-4000-8000-' || lpad(to_hex(i % 200), 12, '0'))::uuid,
       'bench-agent-' || i, 'Bench ' || i, 'active'
from generate_series(0, $agents - 1) as i;

create temporary table bench_agents as
select array_agg(id order by (substr(slug, 13))::int) as ids,
       array_agg(owner_id order by (substr(slug, 13))::int) as owners
from public.agents;

insert into public.call_sessions (agent_id, owner_id, room_name, kind, deployment, status,
                                  started_at, ended_at, end_reason, agent_version,
                                  tool_calls, tool_errors)
select a.ids[s.pick], a.owners[s.pick],
       'agent-' || a.ids[s.pick] || '-' || lpad(to_hex(s.g), 10, '0'),
       'live', 'bench',
       case when s.open then 'active'
            when s.reason in ('error', 'lost') then 'failed' else 'ended' end,
       s.started_at,
       case when not s.open
            then s.started_at + make_interval(secs => 5 + s.r_duration ^ 2 * 900) end,
       case when not s.open then s.reason end,
       -- Versions follow one another (eight over the period); a tenth are test calls of
       -- the draft.
       case when s.r_version < 0.1 then null else 1 + floor((1 - s.r_age) * 8)::int end,
       floor(s.r_tools * 4)::int,
       case when s.r_tools > 0.9 then 1 else 0 end
from bench_agents as a,
     (select g,
             case when random() < $busy then 1
                  else 2 + floor(random() * ($agents - 1))::int end as pick,
             s0.r_age,
             now() - s0.r_age * interval '$spread days' as started_at,
             random() < 0.001 as open,
             random() as r_duration,
             random() as r_version,
             random() as r_tools,
             (array['grace_expired', 'grace_expired', 'grace_expired', 'grace_expired',
                    'grace_expired', 'grace_expired', 'user_hangup', 'user_hangup', 'end_call',
                    'end_call', 'end_call', 'max_duration', 'error', 'shutdown', 'room_closed',
                    'lost'])[1 + floor(random() * 16)::int] as reason
      from generate_series(1, $sessions) as g,
           lateral (select random() + g * 0 as r_age) as s0) as s;

insert into public.token_usage (session_id, model, input_tokens, output_tokens,
                                input_audio_tokens, output_audio_tokens)
select id, 'gpt-realtime', t.input, t.output, t.input * 4 / 5, t.output * 4 / 5
from public.call_sessions,
     lateral (select (200 + coalesce(duration_s, 0) * 40)::bigint as input,
                     (50 + coalesce(duration_s, 0) * 8)::bigint as output) as t;

insert into public.token_usage (session_id, model, input_tokens, output_tokens)
select id, 'gpt-4o-mini', 300, 60 from public.call_sessions where random() < 0.2;

-- The greeting (no wait) then the answers: waits of 0.3 s to about 2.5 s, mostly short.
insert into public.call_turns (session_id, turn, spoken_at, latency_s, model_ttfa_s)
select s.id, t, s.started_at + make_interval(secs => t * 20),
       case when t > 1 then 0.3 + random() ^ 3 * 2.2 end,
       0.1 + random() * 0.5
from public.call_sessions as s,
     generate_series(1, least(30, 1 + floor(coalesce(s.duration_s, 0) / 20)::int)) as t;
"""


async def generate(dsn: str, sessions: int, agents: int, busy_share: float) -> UUID:
    """Writes the history; the busy agent's id."""
    sql = (
        GENERATE.replace("$agents", str(agents))
        .replace("$sessions", str(sessions))
        .replace("$busy", repr(busy_share))
        .replace("$spread", str(SPREAD_DAYS))
    )
    conn = await asyncpg.connect(dsn)
    try:
        began = time.perf_counter()
        await conn.execute(sql)
        generated = time.perf_counter() - began
        # What autovacuum does on a live table: statistics, and the visibility map that lets
        # the covering index answer without visiting the table.
        await conn.execute(
            "vacuum analyze public.call_sessions, public.token_usage, public.call_turns"
        )
        counts = await conn.fetchrow(
            "select (select count(*) from public.call_sessions) as sessions,"
            " (select count(*) from public.token_usage) as usage,"
            " (select count(*) from public.call_turns) as turns,"
            " pg_size_pretty(pg_total_relation_size('public.call_sessions')) as sessions_size,"
            " pg_size_pretty(pg_relation_size('public.call_sessions_agent_analytics_idx'))"
            " as index_size"
        )
        assert counts is not None
        busy: UUID = await conn.fetchval("select id from public.agents where slug = $1", BUSY_SLUG)
        print(
            f"generated {counts['sessions']} sessions ({counts['sessions_size']}, covering "
            f"index {counts['index_size']}), {counts['usage']} usage rows and {counts['turns']} "
            f"turns across {agents} "
            f"agents in {generated:.0f} s (+ vacuum analyze)"
        )
        return busy
    finally:
        await conn.close()


def windows(now: datetime) -> list[tuple[str, AnalyticsWindow]]:
    return [
        (f"{group_by.value} {days}d", window_of(now, days, group_by))
        for days in (30, 365)
        for group_by in GroupBy
    ]


def window_of(now: datetime, days: int, group_by: GroupBy) -> AnalyticsWindow:
    return AnalyticsWindow(start=now - timedelta(days=days), end=now, group_by=group_by)


async def bench_store(label: str, store: AgentStore, agent_id: UUID, n: int) -> None:
    now = datetime.now(UTC)
    for name, window in windows(now):
        report = await store.call_analytics(agent_id, window)  # warm: plan, pool, caches
        calls = report.total.calls

        async def query(_: int, window: AnalyticsWindow = window) -> object:
            return await store.call_analytics(agent_id, window)

        print(row(f"{label} {name} ({calls} calls)", *await measure(n, 1, query)))


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process `pid` on this machine; None if it is not here."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def server_cpu(dsn: str, agent_id: UUID, n: int) -> None:
    """CPU the database server spends per query (its backend process's user + system time,
    from /proc: only when the server runs on this machine). Unlike the latency it does not
    grow with what else the machine is doing."""
    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval("select pg_backend_pid()")
        if process_cpu_s(pid) is None:
            print("(server CPU: the database runs elsewhere)")
            return
        for name, window in windows(datetime.now(UTC)):
            args = list(arguments(agent_id, window).values())
            await conn.fetchval(CALL_SQL, *args)
            before = process_cpu_s(pid) or 0.0
            for _ in range(n):
                await conn.fetchval(CALL_SQL, *args)
            per_query_ms = ((process_cpu_s(pid) or 0.0) - before) / n * 1e3
            print(f"{'server CPU ' + name:<34} {per_query_ms:7.2f} ms per query")
    finally:
        await conn.close()


async def explain(dsn: str, agent_id: UUID) -> None:
    """Each query's plan as the function runs it (auto_explain of nested statements)."""
    conn = await asyncpg.connect(dsn)
    plans: list[str] = []
    conn.add_log_listener(lambda _conn, message: plans.append(message.message))
    try:
        await conn.execute(
            "load 'auto_explain';"
            " set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on;"
            " set auto_explain.log_buffers = on; set auto_explain.log_timing = on;"
            " set auto_explain.log_nested_statements = on;"
            " set auto_explain.log_level = notice; set client_min_messages = notice"
        )
        now = datetime.now(UTC)
        for name, window in windows(now):
            args = arguments(agent_id, window)
            plans.clear()
            await conn.fetchval(CALL_SQL, *args.values())
            nested = [p for p in plans if "agent_call_analytics" not in p.split("\n", 2)[1]]
            print(f"\n--- EXPLAIN ANALYZE: {name} ---")
            print("\n".join(nested or plans))
    finally:
        await conn.close()


async def existing(dsn: str) -> UUID | None:
    """The busy agent of a history generated before (`--database`), if there is one."""
    await apply_migrations(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        found: UUID | None = await conn.fetchval(
            "select id from public.agents where slug = $1", BUSY_SLUG
        )
        return found
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def database(dsn: str | None) -> AsyncIterator[tuple[str, PostgresStore]]:
    """The given database, or a fresh one on a local server."""
    if dsn is None:
        async with bench_database() as opened:
            yield opened
        return
    store = await PostgresStore.connect(dsn)
    try:
        yield dsn, store
    finally:
        await store.close()


async def main(args: argparse.Namespace) -> None:
    configure_logging("warning", "console")
    n, rest, plans = args.n, args.rest, args.explain
    async with database(args.database) as (dsn, postgres):
        busy = await existing(dsn) if args.database else None
        if busy is None:
            busy = await generate(dsn, args.sessions, args.agents, args.busy_share)
        print(f"n={n} sequential queries per row, busy agent {busy}")
        await bench_store("postgres", postgres, busy, n)
        await server_cpu(dsn, busy, n)
        if rest:
            with PostgrestDouble(dsn, JWT_SECRET) as double:
                supabase = await SupabaseStore.connect(
                    double.url, make_jwt(JWT_SECRET, role="service_role")
                )
                try:
                    await bench_store("supabase", supabase, busy, max(n // 2, 20))
                finally:
                    await supabase.close()
        if plans:
            await explain(dsn, busy)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=2_000)
    parser.add_argument("--busy-share", type=float, default=0.05)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--no-rest", dest="rest", action="store_false")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--database", help="a database to use (migrated; a history generated before is reused)"
    )
    asyncio.run(main(parser.parse_args()))
