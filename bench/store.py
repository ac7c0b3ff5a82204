"""Store latency on a local PostgreSQL: `python -m bench.store [--n 1000] [--concurrency 16]`.

For each store (PostgresStore over asyncpg; SupabaseStore through supabase-py and the
PostgREST-compatible test server, both over the same real database) it measures a cold
`get_agent` by id, `get_agent_by_slug`, and `update_agent`, sequentially and at the given
concurrency, and prints p50/p95/p99 and throughput. The REST figures include the local REST
server, so they show the shape of the cost, not Supabase's.
"""

from __future__ import annotations

import argparse
import asyncio
from uuid import uuid4

from bench.timing import measure, row
from shared.contracts import AgentConfig, AgentPatch, NewAgent
from shared.db.migrations import apply_migrations
from shared.logging import configure_logging
from shared.store import AgentStore
from shared.store.postgres import PostgresStore
from shared.store.supabase import SupabaseStore
from tests.support.postgres import create_database, postgres_server
from tests.support.postgrest import PostgrestDouble, make_jwt

JWT_SECRET = "bench-jwt-secret-with-at-least-32-characters"


async def bench_store(label: str, store: AgentStore, n: int, concurrency: int) -> None:
    owner = uuid4()
    agents: list[AgentConfig] = [
        await store.create_agent(
            NewAgent(
                owner_id=owner,
                slug=f"bench-{label}-{i}",
                name=f"Bench {i}",
                instructions="You are a benchmark agent. " * 40,
            )
        )
        for i in range(50)
    ]
    versions = {a.id: a.version for a in agents}

    async def get(i: int) -> object:
        return await store.get_agent(agents[i % len(agents)].id)

    async def by_slug(i: int) -> object:
        return await store.get_agent_by_slug(owner, agents[i % len(agents)].slug)

    async def update(i: int) -> object:
        agent = agents[i % len(agents)]
        updated = await store.update_agent(
            agent.id, AgentPatch(greeting=f"Hello {i}"), expected_version=versions[agent.id]
        )
        versions[agent.id] = updated.version
        return updated

    await measure(50, 1, get)  # warm the pool / HTTP connections
    for name, op, c in (
        ("get_agent", get, 1),
        (f"get_agent x{concurrency}", get, concurrency),
        ("get_agent_by_slug", by_slug, 1),
        ("update_agent", update, 1),
    ):
        # Updates of one agent must not overlap (optimistic version check): sequential only.
        print(row(f"{label} {name}", *await measure(n, c, op)))


async def main(n: int, concurrency: int) -> None:
    configure_logging("warning", "console")
    with postgres_server() as server:
        dsn = await create_database(server, prefix="voxie_bench")
        await apply_migrations(dsn)
        postgres = await PostgresStore.connect(dsn, max_size=concurrency)
        double = PostgrestDouble(dsn, JWT_SECRET)
        double.start()
        supabase = await SupabaseStore.connect(
            double.url, make_jwt(JWT_SECRET, role="service_role")
        )
        try:
            print(f"n={n} per row, local PostgreSQL, {concurrency} in flight where marked")
            await bench_store("postgres", postgres, n, concurrency)
            await bench_store("supabase", supabase, n, concurrency)
        finally:
            await postgres.close()
            await supabase.close()
            double.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.concurrency))
