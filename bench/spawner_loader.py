"""Config loader: `python -m bench.spawner_loader [--n 2000]`.

For each store (PostgresStore over asyncpg on a local PostgreSQL; SupabaseStore through
supabase-py and the PostgREST-compatible test server over the same database) it measures
`ConfigLoader.get` cached (the agent's config already in the process cache) and cold (TTL 0:
every get loads from the store), for an agent with a realistic prompt and tools, plus a burst
of 50 concurrent cold gets of one agent (single flight: one query). The REST figures include the
local REST server, so they show the shape of the cost, not Supabase's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from uuid import UUID

from bench.spawner_support import bench_agent, bench_database
from bench.timing import measure, row
from shared.logging import configure_logging
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store import AgentStore
from shared.store.supabase import SupabaseStore
from spawner.loader import ConfigLoader, process_loader
from tests.support.postgrest import PostgrestDouble, make_jwt

JWT_SECRET = "bench-jwt-secret-with-at-least-32-characters"


class CountingStore:
    def __init__(self, store: AgentStore) -> None:
        self.store = store
        self.reads = 0

    async def get_agent(self, agent_id: object) -> object:
        self.reads += 1
        return await self.store.get_agent(agent_id)  # type: ignore[arg-type]


def micro_row(name: str, samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return (
        f"{name:<34} p50 {q[49] * 1e6:7.2f} µs  p95 {q[94] * 1e6:7.2f} µs  "
        f"p99 {q[98] * 1e6:7.2f} µs"
    )


async def bench_through_runtime(dsn: str, agent_id: UUID, n: int) -> None:
    """A job's view: the cached get from the job's own loop, through the process runtime."""
    with tempfile.TemporaryDirectory() as spool:
        settings = Settings(_env_file=None, database_url=dsn, spool_dir=Path(spool))
        runtime = Runtime(settings).start()
        loader = process_loader(runtime)
        try:
            await runtime.call(loader.get(agent_id))
            samples = []
            for _ in range(n):
                start = time.perf_counter()
                await runtime.call(loader.get(agent_id))
                samples.append(time.perf_counter() - start)
            print(micro_row("postgres cached get, runtime hop", samples))
            samples = []
            for _ in range(n):
                start = time.perf_counter()
                if loader.cached(agent_id) is None:
                    await runtime.call(loader.get(agent_id))
                samples.append(time.perf_counter() - start)
            print(micro_row("postgres cached get, from a job", samples))
        finally:
            runtime.close()


async def bench_loader(label: str, store: AgentStore, n: int) -> UUID:
    agent = await bench_agent(store)

    cached = ConfigLoader(store)
    await cached.get(agent.id)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await cached.get(agent.id)
        samples.append(time.perf_counter() - start)
    print(micro_row(f"{label} cached get", samples))

    cold = ConfigLoader(store, ttl_s=0)

    async def get(_: int) -> object:
        return await cold.get(agent.id)

    await measure(20, 1, get)  # warm the pool / HTTP connections
    print(row(f"{label} cold get", *await measure(max(50, n // 10), 1, get)))

    counting = CountingStore(store)
    burst = ConfigLoader(counting, ttl_s=0)  # type: ignore[arg-type]
    start = time.perf_counter()
    await asyncio.gather(*(burst.get(agent.id) for _ in range(50)))
    took = (time.perf_counter() - start) * 1e3
    print(
        f"{label + ' 50 concurrent cold gets':<34} {took:7.2f} ms, {counting.reads} store read(s)"
    )
    return agent.id


async def main(n: int) -> None:
    async with bench_database() as (dsn, postgres):
        print(f"spawner config loader, n={n}")
        agent_id = await bench_loader("postgres", postgres, n)
        await bench_through_runtime(dsn, agent_id, n)
        rest = PostgrestDouble(dsn, JWT_SECRET)
        rest.start()
        try:
            supabase = await SupabaseStore.connect(
                rest.url, make_jwt(JWT_SECRET, role="service_role")
            )
            try:
                await bench_loader("supabase", supabase, n)
            finally:
                await supabase.close()
        finally:
            rest.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    configure_logging("warning", "console")
    asyncio.run(main(args.n))
