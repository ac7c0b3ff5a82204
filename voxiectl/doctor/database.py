"""The database checks: it answers, its migrations are applied (Postgres; not over Supabase's
REST), and Supabase's REST and JWKS endpoints answer where they are configured."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from shared.db.migrations import discover
from shared.settings import StoreKind
from shared.store import AgentStore, open_store
from shared.store.postgres import PostgresStore
from voxiectl.doctor.report import Check, Report, Status


async def database(report: Report) -> AgentStore | None:
    """The store the later checks read, or None when the database is not reachable."""
    s = report.settings
    if s.store_kind is StoreKind.SUPABASE:
        store = await open_store(s)
        await store.ping()
        report.add(Check("database", Status.PASS, f"Supabase REST at {s.supabase_url} answers"))
        report.add(
            Check(
                "migrations",
                Status.SKIP,
                "not checked over REST",
                "compare with `supabase migration list` (Supabase CLI)",
            )
        )
        return store
    dsn = await _dsn(report)
    try:
        conn = await asyncpg.connect(dsn, timeout=s.store_timeout_s, statement_cache_size=0)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        report.add(
            Check(
                "database",
                Status.FAIL,
                f"cannot connect ({type(exc).__name__}: {exc})",
                "start the database or correct DATABASE_URL (in dev `voxiectl start` runs "
                "the local one)",
            )
        )
        report.skip("migrations", "the database is not reachable")
        return None
    try:
        applied = await _applied_versions(conn, s.store_timeout_s)
    finally:
        await conn.close()
    report.add(Check("database", Status.PASS, f"{s.store_kind.value} database answers"))
    report.add(_migrations(applied))
    # Not open_store: for the local database that would apply what is missing, and the
    # doctor only looks.
    return await PostgresStore.connect(dsn, max_size=2, timeout_s=s.store_timeout_s)


async def _dsn(report: Report) -> str:
    s = report.settings
    if s.database_url is not None:
        return s.database_url.get_secret_value()
    from voxiectl.local_db import DATABASE, LocalPostgres, with_database

    server = await asyncio.to_thread(LocalPostgres(s.local_db_dir).start)
    return with_database(server, DATABASE)


async def supabase(report: Report) -> None:
    s = report.settings
    targets: list[tuple[str, str, dict[str, str]]] = []
    if s.supabase_url and s.supabase_service_role_key:
        key = s.supabase_service_role_key.get_secret_value()
        targets.append(
            (
                "REST",
                f"{s.supabase_url.rstrip('/')}/rest/v1/",
                {"apikey": key, "Authorization": f"Bearer {key}"},
            )
        )
    if s.jwks_url:
        targets.append(("JWKS", s.jwks_url, {}))
    if not targets:
        report.skip("supabase", "SUPABASE_URL and SUPABASE_JWKS_URL are not set")
        return
    seen: list[str] = []
    async with httpx.AsyncClient(timeout=report.options.http_timeout_s) as client:
        for what, url, headers in targets:
            try:
                response = await client.get(url, headers=headers)
            except httpx.HTTPError as exc:
                report.add(
                    Check(
                        "supabase",
                        Status.FAIL,
                        f"{what} {url} unreachable ({type(exc).__name__})",
                        "check SUPABASE_URL / SUPABASE_JWKS_URL and the network to Supabase",
                    )
                )
                return
            problem = _supabase_problem(what, response)
            if problem:
                report.add(
                    Check("supabase", Status.FAIL, f"{what} {url}: {problem[0]}", problem[1])
                )
                return
            seen.append(f"{what} answers")
    report.add(Check("supabase", Status.PASS, ", ".join(seen)))


async def _applied_versions(conn: asyncpg.Connection, timeout_s: float) -> set[str]:
    exists = await conn.fetchval(
        "select to_regclass('supabase_migrations.schema_migrations') is not null",
        timeout=timeout_s,
    )
    if not exists:
        return set()
    rows = await conn.fetch(
        "select version from supabase_migrations.schema_migrations", timeout=timeout_s
    )
    return {row["version"] for row in rows}


def _migrations(applied: set[str]) -> Check:
    known = discover()
    missing = [f"{m.version}_{m.name}" for m in known if m.version not in applied]
    unknown = sorted(applied - {m.version for m in known})
    data = {"applied": len(applied), "known": len(known), "missing": missing, "unknown": unknown}
    if missing:
        return Check(
            "migrations",
            Status.FAIL,
            f"{len(missing)} of {len(known)} migration(s) not applied: {', '.join(missing)}",
            "run `voxiectl migrate`",
            data,
        )
    if unknown:
        return Check(
            "migrations",
            Status.WARN,
            f"the database has migration(s) this version does not know: {', '.join(unknown)}",
            "run the platform version that wrote them (this one is older)",
            data,
        )
    return Check("migrations", Status.PASS, f"all {len(known)} migrations applied", data=data)


def _supabase_problem(what: str, response: httpx.Response) -> tuple[str, str] | None:
    if what == "REST":
        if response.status_code in (401, 403):
            return (
                f"refused the service role key ({response.status_code})",
                "set SUPABASE_SERVICE_ROLE_KEY to the project's service_role key",
            )
        if response.status_code >= 400:
            return f"answered {response.status_code}", "check SUPABASE_URL is the project's URL"
        return None
    try:
        keys = response.json().get("keys")
    except (ValueError, AttributeError):
        keys = None
    if response.status_code != 200 or not isinstance(keys, list):
        return (
            f"answered {response.status_code} without a key set",
            "check SUPABASE_JWKS_URL (default: SUPABASE_URL + /auth/v1/.well-known/jwks.json)",
        )
    return None
