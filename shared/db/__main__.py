"""`python -m shared.db migrate`: bring the configured database up to date, and exit.

What a deployment runs before it starts the platform (the Docker entrypoint's `migrate`, the
Helm hook Job, the systemd unit): the migrations are applied to DATABASE_URL; with SUPABASE_URL
it checks the REST API answers (migrations then go through the Supabase CLI). The local
embedded database of `scripts/start` is dev tooling and lives with the launcher
(`voxiectl.local_db`, `voxiectl migrate`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from urllib.parse import urlsplit

import asyncpg
from pydantic import ValidationError

from shared.db.migrations import apply_migrations
from shared.logging import configure_logging, get_logger
from shared.settings import Settings, StoreKind
from shared.store import StoreError, open_store
from shared.store.postgres import PostgresStore

log = get_logger("shared.db")

NO_DATABASE = (
    "no database is configured: set DATABASE_URL (or SUPABASE_URL); in dev, `voxiectl migrate` "
    "migrates the local database scripts/start runs"
)


def masked(dsn: str) -> str:
    """The DSN without its password, safe to print."""
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return dsn


async def prepare(settings: Settings) -> str:
    """Migrates DATABASE_URL (or checks Supabase REST answers) and returns where, once the store
    the platform's processes will use answers — not only once a server exists."""
    if settings.store_kind is StoreKind.SUPABASE:
        store = await open_store(settings)
        where = f"{settings.supabase_url} (apply migrations with `supabase db push`)"
    else:
        if settings.database_url is None:
            raise StoreError(NO_DATABASE)
        where = settings.database_url.get_secret_value()
        await apply_migrations(where)
        store = await PostgresStore.connect(where, max_size=1)
    try:
        await store.ping()
    finally:
        await store.close()
    return where


async def _main() -> int:
    try:
        settings = Settings()
    except (ValidationError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if settings.store_kind is StoreKind.LOCAL:
        print(f"configuration error: {NO_DATABASE}", file=sys.stderr)
        return 2
    try:
        where = await prepare(settings)
    except (StoreError, OSError, asyncpg.PostgresError) as exc:
        log.error("database_unavailable", error=str(exc), store=settings.store_kind.value)
        return 1
    log.info("database_ready", store=settings.store_kind.value, database_url=masked(where))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.db",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args(argv)
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
