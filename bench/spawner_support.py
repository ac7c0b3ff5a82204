"""What the spawner benchmarks share: a local database with one stored agent, the worker's env."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from shared.contracts import AgentConfig
from shared.contracts.workers import WorkerBeat
from shared.db.migrations import apply_migrations
from shared.naming import WorkerRole
from shared.store import AgentStore
from shared.store.postgres import PostgresStore
from tests.spawner.conftest import new_agent
from tests.support.livekit import LiveKitDouble
from tests.support.postgres import create_database, postgres_server


@contextlib.asynccontextmanager
async def bench_database() -> AsyncIterator[tuple[str, PostgresStore]]:
    """A fresh migrated database on a local PostgreSQL server, and a store on it."""
    with postgres_server() as server:
        dsn = await create_database(server, prefix="voxie_bench")
        await apply_migrations(dsn)
        store = await PostgresStore.connect(dsn)
        try:
            yield dsn, store
        finally:
            await store.close()


def live_spawner(deployment: str) -> WorkerBeat:
    """A spawner's heartbeat for a benchmark's backend to count (its store is told one is live,
    ttl an hour): the backend refuses rooms no live worker could take, and what the benchmark
    serves writes none (the LiveKit double, the seeds' shape)."""
    return WorkerBeat(
        worker_id=f"AW_bench_{deployment}",
        agent_name=f"spawner-{deployment}",
        role=WorkerRole.SPAWNER,
        deployment=deployment,
        active_sessions=0,
        max_sessions=16,
        available=True,
        draining=False,
    )


async def bench_agent(store: AgentStore) -> AgentConfig:
    """An agent with a realistic prompt and one HTTP tool."""
    tool = {
        "type": "http",
        "name": "book_appointment",
        "description": "Book a slot once the caller confirmed it.",
        "parameters": {"type": "object", "properties": {"start": {"type": "string"}}},
        "url": "https://api.example.com/bookings",
    }
    return await store.create_agent(
        new_agent(
            instructions="You are Clarence, the front desk of Coherence Dental. " * 40,
            tools=[tool, {"type": "builtin", "name": "end_call"}],
        )
    )


def spawner_env(
    livekit: LiveKitDouble, dsn: str, directory: Path, *, executor: str, idle: int
) -> dict[str, str]:
    return {
        **livekit.env(),
        "PLATFORM_ENV": "test",
        "DATABASE_URL": dsn,
        "WORKER_HTTP_PORT": "0",
        "WORKER_EXECUTOR": executor,
        "WORKER_IDLE_PROCESSES": str(idle),
        "WORKER_MAX_SESSIONS": "200",
        "WORKER_LOAD_CPU": "false",
        "SPOOL_DIR": str(directory / "spool"),
        "OPENAI_API_KEY": "sk-bench-not-used",
        "LOG_FORMAT": "json",
    }
