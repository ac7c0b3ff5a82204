"""`python -m voxiectl.local_db up` — the database step of the README's start command — brings
up the local database from nothing, and its data survives a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from shared.contracts import NewAgent
from shared.store.postgres import PostgresStore

READY_TIMEOUT_S = 60


@asynccontextmanager
async def database_up(data_dir: Path, cwd: Path) -> AsyncIterator[str]:
    """Runs the command, yields the DATABASE_URL it reports, stops it with SIGINT."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "STORE"}
    }
    env.update(PLATFORM_ENV="dev", LOCAL_DB_DIR=str(data_dir), LOG_FORMAT="json")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voxiectl.local_db",
        "up",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            while True:
                line = (await process.stdout.readline()).decode()
                assert line, f"exited before ready:\n{''.join(output)}"
                output.append(line)
                if line.startswith("DATABASE_URL="):
                    break
        assert any('"event": "database_ready"' in o for o in output), output
        yield line.removeprefix("DATABASE_URL=").strip()
    finally:
        process.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(process.stdout.read(), READY_TIMEOUT_S)
        assert await process.wait() == 0, rest.decode()


async def test_start_command_creates_migrates_and_persists(tmp_path: Path) -> None:
    data_dir = tmp_path / "pg"
    async with database_up(data_dir, tmp_path) as dsn:
        assert (data_dir / "PG_VERSION").exists()
        store = await PostgresStore.connect(dsn)
        try:
            created = await store.create_agent(
                NewAgent(
                    owner_id="9b1d2c3e-0000-4000-8000-00000000a11c", slug="farah", name="Farah"
                )
            )
        finally:
            await store.close()

    async with database_up(data_dir, tmp_path) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            assert (
                await conn.fetchval("select name from agents where id = $1", created.id) == "Farah"
            )
        finally:
            await conn.close()
