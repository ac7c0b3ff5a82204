"""The migrations on a plain Postgres: applied once, in order, and the schema enforces its rules."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from shared.db.migrations import apply_migrations, discover
from tests.support.postgres import create_database


@pytest.fixture
async def fresh(pg_server: str) -> str:
    return await create_database(pg_server, prefix="voxie_migrate")


async def test_discovers_the_supabase_cli_layout() -> None:
    migrations = discover()
    assert [m.name for m in migrations][:2] == ["platform_bootstrap", "core_schema"]
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)


async def test_applies_each_migration_once_even_concurrently(fresh: str) -> None:
    results = await asyncio.gather(*(apply_migrations(fresh) for _ in range(3)))
    applied = sorted(v for result in results for v in result)
    assert applied == [m.version for m in discover()]
    assert await apply_migrations(fresh) == []
    conn = await asyncpg.connect(fresh)
    try:
        rows = await conn.fetch(
            "select version, name from supabase_migrations.schema_migrations order by version"
        )
        assert [(r["version"], r["name"]) for r in rows] == [
            (m.version, m.name) for m in discover()
        ]
    finally:
        await conn.close()


async def test_bootstrap_keeps_an_existing_auth_uid(fresh: str) -> None:
    """On Supabase `auth.uid()` exists already; the bootstrap must not replace it."""
    conn = await asyncpg.connect(fresh)
    try:
        await conn.execute(
            "create schema auth; create function auth.uid() returns uuid language sql stable"
            " as $$ select '00000000-0000-4000-8000-000000000001'::uuid $$"
        )
        await apply_migrations(fresh)
        assert (
            str(await conn.fetchval("select auth.uid()")) == "00000000-0000-4000-8000-000000000001"
        )
    finally:
        await conn.close()


async def test_a_bad_migration_file_name_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "add_things.sql").write_text("select 1")
    with pytest.raises(ValueError, match=r"<14-digit version>_<name>\.sql"):
        discover(directory)


async def test_a_failing_migration_rolls_back_and_is_not_recorded(
    fresh: str, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "20990101000000_good.sql").write_text("create table good (id int);")
    (directory / "20990101000001_bad.sql").write_text("create table half (id int); select 1/0;")
    with pytest.raises(asyncpg.DivisionByZeroError):
        await apply_migrations(fresh, directory)
    conn = await asyncpg.connect(fresh)
    try:
        assert await conn.fetchval("select to_regclass('public.good')") is not None
        assert await conn.fetchval("select to_regclass('public.half')") is None
        versions = await conn.fetch("select version from supabase_migrations.schema_migrations")
        assert [r["version"] for r in versions] == ["20990101000000"]
    finally:
        await conn.close()


async def test_schema_rules_hold_for_any_writer(database_url: str) -> None:
    """The trigger and checks apply to raw SQL too, not only to the store's writes."""
    conn = await asyncpg.connect(database_url)
    transaction = conn.transaction()
    await transaction.start()  # rolled back at the end: the shared database stays clean
    try:
        agent_id = await conn.fetchval(
            "insert into agents (owner_id, slug, name) values ($1, 'rules', 'Rules') returning id",
            uuid4(),
        )
        row = await conn.fetchrow(
            "update agents set name = 'Renamed', version = 99, created_at = now() - interval"
            " '1 day' where id = $1 returning version, created_at, updated_at",
            agent_id,
        )
        assert row is not None
        assert row["version"] == 2 and row["created_at"] <= row["updated_at"]
        for bad in (
            "update agents set slug = 'Not A Slug' where id = $1",
            "update agents set status = 'deleted' where id = $1",
            "update agents set tools = '{}'::jsonb where id = $1",
        ):
            with pytest.raises(asyncpg.CheckViolationError):
                async with conn.transaction():  # a savepoint
                    await conn.execute(bad, agent_id)
        session_id = await conn.fetchval(
            "insert into call_sessions (agent_id, room_name, kind, deployment, started_at)"
            " values ($1, 'r', 'test', 'dev', now() - interval '90 seconds') returning id",
            agent_id,
        )
        duration = await conn.fetchval(
            "update call_sessions set status = 'ended', ended_at = now(), end_reason = 'lost'"
            " where id = $1 returning duration_s",
            session_id,
        )
        assert duration == pytest.approx(90, abs=1)
        with pytest.raises(asyncpg.CheckViolationError):  # ended rows need ended_at, and back
            async with conn.transaction():
                await conn.execute(
                    "update call_sessions set status = 'active' where id = $1", session_id
                )
    finally:
        await transaction.rollback()
        await conn.close()


async def test_every_table_has_row_level_security(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "select relname, relrowsecurity from pg_class c join pg_namespace n"
            " on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'"
        )
    finally:
        await conn.close()
    tables = {r["relname"]: r["relrowsecurity"] for r in rows}
    assert set(tables) >= {"agents", "call_sessions", "call_transcripts", "token_usage", "leases"}
    assert all(tables.values()), tables
