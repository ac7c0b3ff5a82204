"""`python -m shared.db up|migrate`: bring the configured database up to date.

up       start the local embedded Postgres when no database is configured (else check the
         configured one), apply the migrations, report ready, and stay up until Ctrl-C
migrate  apply the migrations to DATABASE_URL (or the local database) and exit
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from urllib.parse import urlsplit

import asyncpg
from pydantic import ValidationError

from shared.db.local import LocalPostgres, ensure_database
from shared.db.migrations import apply_migrations
from shared.logging import configure_logging, get_logger
from shared.settings import Settings, StoreKind
from shared.store import StoreError, open_store
from shared.store.postgres import PostgresStore

log = get_logger("shared.db")


def masked(dsn: str) -> str:
    """The DSN without its password, safe to print."""
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return dsn


async def _prepare(settings: Settings) -> tuple[LocalPostgres | None, str]:
    """Returns the local server (if one was started) and a description of the database.

    Ready means the store the platform's processes will use answers, not only that a server
    process exists.
    """
    kind = settings.store_kind
    server: LocalPostgres | None = None
    if kind is StoreKind.SUPABASE:
        # Over REST, migrations go through the Supabase CLI; check the API answers.
        store = await open_store(settings)
        where = f"{settings.supabase_url} (apply migrations with `supabase db push`)"
    else:
        if kind is StoreKind.LOCAL:
            server = LocalPostgres(settings.local_db_dir)
            where = await ensure_database(await asyncio.to_thread(server.start))
        else:
            assert settings.database_url is not None
            where = settings.database_url.get_secret_value()
            await apply_migrations(where)
        store = await PostgresStore.connect(where, max_size=1)
    try:
        await store.ping()
    finally:
        await store.close()
    return server, where


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _main(command: str) -> int:
    try:
        settings = Settings()
    except (ValidationError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        server, where = await _prepare(settings)
    except (StoreError, OSError, asyncpg.PostgresError) as exc:
        log.error("database_unavailable", error=str(exc), store=settings.store_kind.value)
        return 1
    log.info(
        "database_ready",
        store=settings.store_kind.value,
        database_url=masked(where),
        data_dir=str(server.data_dir) if server else None,
    )
    if command == "up" and server is not None:
        print(f"DATABASE_URL={where}", flush=True)
        await _wait_for_signal()
        await asyncio.to_thread(server.stop)
        log.info("database_stopped", data_dir=str(server.data_dir))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.db",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "migrate"])
    args = parser.parse_args(argv)
    return asyncio.run(_main(args.command))


if __name__ == "__main__":
    sys.exit(main())
