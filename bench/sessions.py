"""The call history on a million sessions: `python -m bench.sessions [--sessions 1000000]`.

Generates the history `bench.analytics` does (`--agents` agents, one busy agent holding
`--busy-share` of the calls) in a local PostgreSQL, makes `--test-share` of the calls test
calls, and times `PostgresStore.list_sessions` — a page of 50 with its exact total, what `GET
/api/sessions` answers — for one agent and one owner (the busy agent's), with and without a
kind. Then it drops the (owner|agent, kind, started_at) indexes in its own database and times
the same again: what those indexes buy (the migration `call_session_kind_indexes`).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any
from uuid import UUID

import asyncpg

from bench.analytics import generate
from bench.spawner_support import bench_database
from bench.timing import measure, row
from shared.contracts import SessionKind
from shared.logging import configure_logging
from shared.store.postgres import PostgresStore

KIND_INDEXES = ("call_sessions_owner_kind_started_idx", "call_sessions_agent_kind_started_idx")


def cases(agent: UUID, owner: UUID) -> list[tuple[str, dict[str, Any]]]:
    test, live = SessionKind.TEST, SessionKind.LIVE
    return [
        ("agent", {"agent_id": agent}),
        ("agent test", {"agent_id": agent, "kind": test}),
        ("agent test, offset 1000", {"agent_id": agent, "kind": test, "offset": 1000}),
        ("owner", {"owner_id": owner}),
        ("owner test", {"owner_id": owner, "kind": test}),
        ("owner live", {"owner_id": owner, "kind": live}),
        ("operator test", {"kind": test}),
    ]


async def bench(label: str, store: PostgresStore, agent: UUID, owner: UUID, n: int) -> None:
    for name, filters in cases(agent, owner):
        total = (await store.list_sessions(**filters)).total  # warm: plan, pool, caches

        async def page(_: int, filters: dict[str, Any] = filters) -> object:
            return await store.list_sessions(**filters)

        print(row(f"{label} {name} ({total})", *await measure(n, 1, page)))


async def main(args: argparse.Namespace) -> None:
    configure_logging("warning", "console")
    async with bench_database() as (dsn, store):
        agent = await generate(dsn, args.sessions, args.agents, args.busy_share)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("select setseed(0.7)")
            await conn.execute(
                "update public.call_sessions set kind = 'test' where random() < $1",
                args.test_share,
            )
            await conn.execute("vacuum analyze public.call_sessions")
            owner = await conn.fetchval("select owner_id from public.agents where id = $1", agent)
            await bench("with", store, agent, owner, args.n)
            await conn.execute(f"drop index {', '.join(f'public.{i}' for i in KIND_INDEXES)}")
            await bench("without", store, agent, owner, args.n)
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=2_000)
    parser.add_argument("--busy-share", type=float, default=0.05)
    parser.add_argument("--test-share", type=float, default=0.05)
    parser.add_argument("--n", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
