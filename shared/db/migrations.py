"""Applies `deploy/supabase/migrations/*.sql` in order, each once, each in its own transaction.

Applied versions are recorded where the Supabase CLI records them
(`supabase_migrations.schema_migrations`), so a database migrated here and one migrated with
`supabase db push` agree on what is applied. A session advisory lock makes concurrent starts
(several replicas booting at once) apply each file exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.logging import get_logger

log = get_logger(__name__)

_FILENAME = re.compile(r"(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql")
_LOCK_KEY = 0x766F786965  # "voxie": any constant shared by every migrating process


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def migrations_dir() -> Path:
    """The packaged copy in a wheel, else the repository's `deploy/supabase/migrations`."""
    packaged = Path(__file__).with_name("sql")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "deploy" / "supabase" / "migrations"


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.fullmatch(path.name)
        if not match:
            raise ValueError(
                f"{path.name}: migration files are named <14-digit version>_<name>.sql"
            )
        found.append(Migration(match["version"], match["name"], path))
    return found


async def apply_migrations(dsn: str, directory: Path | None = None) -> list[str]:
    """Applies what is not applied yet; returns the versions applied by this call."""
    pending = discover(directory)
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                """
                create schema if not exists supabase_migrations;
                create table if not exists supabase_migrations.schema_migrations (
                  version text primary key, statements text[], name text
                );
                """
            )
            done = {
                row["version"]
                for row in await conn.fetch(
                    "select version from supabase_migrations.schema_migrations"
                )
            }
            applied: list[str] = []
            for migration in pending:
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "insert into supabase_migrations.schema_migrations"
                        " (version, name, statements) values ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        [migration.sql],
                    )
                log.info("migration_applied", version=migration.version, migration=migration.name)
                applied.append(migration.version)
            return applied
        finally:
            await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
