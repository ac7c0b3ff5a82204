"""`PostgresStore`: the AgentStore over asyncpg, on DATABASE_URL or the local embedded server.

Works through Supabase's transaction pooler (Supavisor) and pgbouncer: no prepared-statement
cache, nothing session-scoped. The pool starts empty, so a store built while the database is
down comes up fine and answers StoreUnavailable until the database is back.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4

import asyncpg

from shared.contracts import (
    AgentConfig,
    AgentPatch,
    AgentStatus,
    CallSession,
    CallTurn,
    EndReason,
    NewAgent,
    NewCallSession,
    SessionKind,
    SessionStatus,
    TokenUsage,
    Transcript,
)
from shared.contracts.analytics import AnalyticsWindow, CallAnalytics
from shared.contracts.sessions import INFERRED_ENDS, end_replaces
from shared.contracts.workers import WorkerBeat, WorkerHeartbeat
from shared.logging import get_logger
from shared.store import analytics
from shared.store.api_keys import PostgresApiKeys
from shared.store.base import (
    AGENT_COLUMNS,
    TURN_COLUMNS,
    CallStats,
    Page,
    agent_from_row,
    apply_patch,
    call_stats_from_rows,
    canonical_slug,
    check_final_status,
    check_page,
    parse_uuid,
    raw_row,
    readable_agents,
    retrying,
    serialised,
    session_from_row,
    slug_not_found,
    slug_taken,
    stale_version,
    validated,
    workers_from_rows,
)
from shared.store.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    StoreError,
    StoreTimedOut,
    StoreUnavailable,
)
from shared.store.guard import StoreGuard
from shared.store.postgres_versions import PostgresVersions
from shared.store.search import SEARCHED_COLUMNS, agent_search
from shared.store.secrets import PostgresSecrets
from shared.store.webhooks import PostgresWebhooks

log = get_logger(__name__)

T = TypeVar("T")

if TYPE_CHECKING:
    from shared.store.postgres_versions import Conn

# Column names come from the contract (never from input), so the SQL is built once here.
_INSERT_AGENT = (
    f"insert into public.agents (id, owner_id, {', '.join(AGENT_COLUMNS)})"  # noqa: S608
    f" values ({', '.join(f'${i}' for i in range(1, len(AGENT_COLUMNS) + 3))}) returning *"
)
_UPDATE_AGENT = (
    "update public.agents set "  # noqa: S608
    + ", ".join(f"{column} = ${i}" for i, column in enumerate(AGENT_COLUMNS, 2))
    + " where id = $1 returning *"
)
# `list_agents`: $1 owner (null: every owner), $2 include archived, $3 the search pattern (null:
# no search; shared.store.search), $4..$5 the owner ids the search also matches (null: none).
_AGENTS_LISTED = (
    "($1::uuid is null or owner_id = $1) and ($2 or status <> 'archived') and ($3::text is null or "
    + " or ".join(f"{column} ~* $3" for column in SEARCHED_COLUMNS)
    + " or owner_id between $4::uuid and $5::uuid)"
)
_TRANSIENT = (
    OSError,  # refused, reset, DNS: includes ConnectionError
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    # What asyncpg raises on a pooled connection the server killed while it sat idle.
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
)


class PostgresStore(PostgresVersions, PostgresSecrets, PostgresApiKeys, PostgresWebhooks):
    def __init__(self, pool: asyncpg.Pool, *, attempts: int = 3, guard: StoreGuard) -> None:
        self._pool = pool
        self._attempts = attempts
        self._guard = guard

    @classmethod
    async def connect(
        cls, dsn: str, *, max_size: int = 10, attempts: int = 3, timeout_s: float = 5.0
    ) -> PostgresStore:
        """`timeout_s`: the deadline of one database round trip in all (see StoreGuard)."""
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=0,
                max_size=max_size,
                statement_cache_size=0,  # transaction poolers cannot keep prepared statements
                command_timeout=timeout_s,
                timeout=timeout_s,  # connect timeout: an outage must answer fast, not hang callers
                max_inactive_connection_lifetime=60.0,
                init=_init_connection,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnavailable(f"cannot open the database pool: {type(exc).__name__}") from exc
        return cls(pool, attempts=attempts, guard=StoreGuard(timeout_s))

    # --- plumbing ------------------------------------------------------------------------------

    async def _run(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        return await self._guard.run(lambda: self._attempt(op))

    async def _page(
        self,
        table: str,
        where: str,
        order_by: str,
        args: Sequence[Any],
        limit: int,
        offset: int,
    ) -> tuple[list[asyncpg.Record], int]:
        """A page of `table`'s rows matching `where` (its $1.. are `args`), and how many match in
        all: read in one snapshot, so the total agrees with the page. The table, condition and
        order are this store's own SQL, never input."""
        after = len(args)
        rows_sql = (
            f"select * from public.{table} where {where}"  # noqa: S608
            f" order by {order_by} limit ${after + 1} offset ${after + 2}"
        )
        count_sql = f"select count(*) from public.{table} where {where}"  # noqa: S608

        async def op(c: Conn) -> tuple[list[asyncpg.Record], int]:
            async with c.transaction(readonly=True, isolation="repeatable_read"):
                rows = await c.fetch(rows_sql, *args, limit, offset)
                total = await c.fetchval(count_sql, *args)
            return rows, int(total)

        return await self._run(op)

    async def _attempt(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        try:
            async for attempt in retrying(self._attempts, _retryable):
                with attempt:
                    return await self._on_connection(op)
        except StoreError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    async def _on_connection(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """`op` on a pooled connection, which goes back to the pool only if the server answered.

        A connection whose command was interrupted (the deadline cancelled it, it timed out, it
        was cut) is terminated instead: asyncpg's release would first wait for the server to
        confirm a cancel request and then reset the connection, up to the acquire timeout in all —
        against a server that hangs, a second deadline spent after the first (10 s for a 5 s
        STORE_TIMEOUT_S, issue 26).
        """
        conn = await self._pool.acquire(timeout=self._guard.timeout_s)
        try:
            result = await op(conn)
        except BaseException as exc:
            if not isinstance(exc, asyncpg.PostgresError | StoreError):  # no answer
                conn.terminate()  # closed at once; releasing it then only frees its place
            await self._pool.release(conn)
            raise
        await self._pool.release(conn)
        return result

    async def ping(self) -> None:
        await self._run(lambda conn: conn.fetchval("select 1"))

    async def close(self) -> None:
        await self._pool.close()

    # --- agents --------------------------------------------------------------------------------

    async def _agent_row(self, agent_id: UUID | str, owner_id: UUID | None) -> asyncpg.Record:
        agent_uuid = parse_uuid(agent_id, "agent id")
        row = await self._run(
            lambda c: c.fetchrow(
                "select * from public.agents where id = $1 and ($2::uuid is null or owner_id = $2)",
                agent_uuid,
                owner_id,
            )
        )
        if row is None:
            raise NotFound(f"no agent {agent_uuid}")
        return row

    async def get_agent(self, agent_id: UUID | str, *, owner_id: UUID | None = None) -> AgentConfig:
        return agent_from_row(await self._agent_row(agent_id, owner_id))

    async def get_agent_by_slug(self, owner_id: UUID, slug: str) -> AgentConfig:
        wanted = canonical_slug(slug)
        row = await self._run(
            lambda c: c.fetchrow(
                "select * from public.agents where owner_id = $1 and slug = $2"
                " order by status = 'archived', updated_at desc limit 1",
                owner_id,
                wanted,
            )
        )
        if row is not None:
            return agent_from_row(row)
        known = await self._run(
            lambda c: c.fetch(
                "select slug from public.agents where owner_id = $1 and status <> 'archived'",
                owner_id,
            )
        )
        raise slug_not_found(wanted, [r["slug"] for r in known])

    async def list_agents(
        self,
        owner_id: UUID | None,
        *,
        limit: int = 50,
        offset: int = 0,
        include_archived: bool = False,
        search: str | None = None,
    ) -> Page[AgentConfig]:
        check_page(limit, offset)
        found = agent_search(search, every_owner=owner_id is None)
        owner_ids = found.owner_ids if found else None
        args = (
            owner_id,
            include_archived,
            found.pattern if found else None,
            owner_ids[0] if owner_ids else None,
            owner_ids[1] if owner_ids else None,
        )

        rows, total = await self._page(
            "agents", _AGENTS_LISTED, "updated_at desc, id", args, limit, offset
        )
        agents, unreadable = readable_agents(rows)
        return Page(agents, total, limit, offset, unreadable)

    async def agent_call_stats(self, agent_ids: Sequence[UUID]) -> dict[UUID, CallStats]:
        if not agent_ids:
            return {}
        rows = await self._run(
            lambda c: c.fetch("select * from public.agent_call_stats($1)", list(agent_ids))
        )
        return call_stats_from_rows(agent_ids, rows)

    async def agent_names(
        self, agent_ids: Sequence[UUID], *, owner_id: UUID | None = None
    ) -> dict[UUID, str]:
        if not agent_ids:
            return {}
        rows = await self._run(
            lambda c: c.fetch(
                "select id, name from public.agents"
                " where id = any($1::uuid[]) and ($2::uuid is null or owner_id = $2)",
                list(agent_ids),
                owner_id,
            )
        )
        return {row["id"]: row["name"] for row in rows}

    async def get_agent_row(
        self, agent_id: UUID | str, *, owner_id: UUID | None = None
    ) -> dict[str, Any]:
        return raw_row(await self._agent_row(agent_id, owner_id))

    async def create_agent(self, new: NewAgent) -> AgentConfig:
        new, values = serialised(NewAgent, new)
        # The id is chosen here so a retry after a lost reply finds its own row, not a conflict.
        agent_id = uuid4()

        async def op(c: Conn) -> asyncpg.Record | None:
            try:
                return await c.fetchrow(
                    _INSERT_AGENT,
                    agent_id,
                    new.owner_id,
                    *(values[k] for k in AGENT_COLUMNS),
                )
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "agents_pkey":
                    return await c.fetchrow("select * from public.agents where id = $1", agent_id)
                raise slug_taken(new.slug) from None

        row = await self._run(op)
        assert row is not None
        return agent_from_row(row)

    async def update_agent(
        self,
        agent_id: UUID | str,
        patch: AgentPatch,
        *,
        expected_version: int,
        owner_id: UUID | None = None,
    ) -> AgentConfig:
        agent_uuid = parse_uuid(agent_id, "agent id")

        async def op(c: Conn) -> asyncpg.Record:
            async with c.transaction():
                row = await c.fetchrow(
                    "select * from public.agents where id = $1"
                    " and ($2::uuid is null or owner_id = $2) for update",
                    agent_uuid,
                    owner_id,
                )
                if row is None:
                    raise NotFound(f"no agent {agent_uuid}")
                if row["version"] != expected_version:
                    raise stale_version(agent_uuid, row["version"], expected_version)
                merged, values = serialised(AgentConfig, apply_patch(agent_from_row(row), patch))
                try:
                    updated = await c.fetchrow(
                        _UPDATE_AGENT,
                        agent_uuid,
                        *(values[k] for k in AGENT_COLUMNS),
                    )
                except asyncpg.UniqueViolationError:
                    raise slug_taken(merged.slug) from None
                assert updated is not None
                return updated

        return agent_from_row(await self._run(op))

    async def archive_agent(
        self, agent_id: UUID | str, *, owner_id: UUID | None = None
    ) -> AgentConfig:
        agent_uuid = parse_uuid(agent_id, "agent id")
        row = await self._run(
            lambda c: c.fetchrow(
                "update public.agents set status = $3 where id = $1"
                " and ($2::uuid is null or owner_id = $2) and status <> $3 returning *",
                agent_uuid,
                owner_id,
                AgentStatus.ARCHIVED.value,
            )
        )
        return (
            agent_from_row(row)
            if row is not None
            else await self.get_agent(agent_uuid, owner_id=owner_id)
        )

    async def delete_agent(self, agent_id: UUID | str, *, owner_id: UUID | None = None) -> None:
        agent_uuid = parse_uuid(agent_id, "agent id")
        deleted = await self._run(
            lambda c: c.fetchval(
                "delete from public.agents where id = $1"
                " and ($2::uuid is null or owner_id = $2) returning id",
                agent_uuid,
                owner_id,
            )
        )
        if deleted is None:
            raise NotFound(f"no agent {agent_uuid}")

    # --- sessions ------------------------------------------------------------------------------

    async def start_session(self, new: NewCallSession) -> CallSession:
        new = validated(NewCallSession, new.model_dump())
        session_id = new.id or uuid4()
        row = await self._run(
            lambda c: c.fetchrow(
                "with inserted as ("
                " insert into public.call_sessions (id, agent_id, owner_id, room_name, kind,"
                " deployment, participant_identity, job_id, agent_version, draft_version)"
                " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                " on conflict (id) do update set job_id = excluded.job_id"
                " where public.call_sessions.job_id is null"
                " and public.call_sessions.status = 'active'"
                " returning *)"
                " select * from inserted union all"
                " select * from public.call_sessions where id = $1 limit 1",
                session_id,
                new.agent_id,
                new.owner_id,
                new.room_name,
                new.kind.value,
                new.deployment,
                new.participant_identity,
                new.job_id,
                new.agent_version,
                new.draft_version,
            )
        )
        assert row is not None
        return session_from_row(row)

    async def finish_session(
        self,
        session_id: UUID | str,
        *,
        end_reason: EndReason,
        status: SessionStatus = SessionStatus.ENDED,
        error: str | None = None,
        ended_at: datetime | None = None,
    ) -> CallSession:
        sid = parse_uuid(session_id, "session id")
        check_final_status(status)
        row = await self._run(
            lambda c: c.fetchrow(
                "update public.call_sessions set status = $2, end_reason = $3, error = $4,"
                " ended_at = greatest(coalesce($5, now()), started_at)"
                " where id = $1 and (status = 'active' or end_reason = any($6::text[]))"
                " returning *",
                sid,
                status.value,
                end_reason.value,
                error[:2000] if error else None,
                ended_at,
                [e.value for e in INFERRED_ENDS if end_replaces(e, end_reason)],
            )
        )
        return session_from_row(row) if row is not None else await self.get_session(sid)

    async def mark_ending(self, session_id: UUID | str) -> None:
        sid = parse_uuid(session_id, "session id")
        await self._run(
            lambda c: c.execute(
                "update public.call_sessions set ending_at = now()"
                " where id = $1 and status = 'active' and ending_at is null",
                sid,
            )
        )

    async def get_session(self, session_id: UUID | str) -> CallSession:
        sid = parse_uuid(session_id, "session id")
        row = await self._run(
            lambda c: c.fetchrow("select * from public.call_sessions where id = $1", sid)
        )
        if row is None:
            raise NotFound(f"no session {sid}")
        return session_from_row(row)

    async def list_sessions(
        self,
        *,
        agent_id: UUID | None = None,
        owner_id: UUID | None = None,
        room_name: str | None = None,
        kind: SessionKind | None = None,
        open_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[CallSession]:
        check_page(limit, offset)
        where = (
            "($1::uuid is null or agent_id = $1) and ($2::uuid is null or owner_id = $2)"
            " and ($3::text is null or room_name = $3) and ($4::text is null or kind = $4)"
            " and (not $5 or status = 'active')"
        )
        args = (agent_id, owner_id, room_name, kind, open_only)

        rows, total = await self._page(
            "call_sessions", where, "started_at desc, id", args, limit, offset
        )
        return Page([session_from_row(r) for r in rows], total, limit, offset)

    async def write_transcript(
        self, session_id: UUID | str, items: Sequence[dict[str, Any]], summary: str | None = None
    ) -> None:
        sid = parse_uuid(session_id, "session id")
        transcript, _ = serialised(
            Transcript,
            validated(Transcript, {"session_id": sid, "items": list(items), "summary": summary}),
        )
        await self._run(
            lambda c: c.execute(
                "insert into public.call_transcripts (session_id, items, summary)"
                " values ($1, $2, $3) on conflict (session_id)"
                " do update set items = excluded.items, summary = excluded.summary",
                sid,
                transcript.items,
                transcript.summary,
            )
        )

    async def write_usage(self, session_id: UUID | str, usage: Sequence[TokenUsage]) -> None:
        sid = parse_uuid(session_id, "session id")
        rows = [validated(TokenUsage, u.model_dump()) for u in usage]
        if not rows:
            return

        async def op(c: Conn) -> None:
            async with c.transaction():
                await c.executemany(
                    "insert into public.token_usage (session_id, model, input_tokens,"
                    " output_tokens, input_audio_tokens, output_audio_tokens, audio_seconds)"
                    " values ($1, $2, $3, $4, $5, $6, $7) on conflict (session_id, model) do update"
                    " set input_tokens = excluded.input_tokens,"
                    " output_tokens = excluded.output_tokens,"
                    " input_audio_tokens = excluded.input_audio_tokens,"
                    " output_audio_tokens = excluded.output_audio_tokens,"
                    " audio_seconds = excluded.audio_seconds",
                    [
                        (
                            sid,
                            u.model,
                            u.input_tokens,
                            u.output_tokens,
                            u.input_audio_tokens,
                            u.output_audio_tokens,
                            u.audio_seconds,
                        )
                        for u in rows
                    ],
                )

        await self._run(op)

    async def get_transcript(
        self, session_id: UUID | str
    ) -> tuple[list[dict[str, Any]], str | None]:
        sid = parse_uuid(session_id, "session id")
        row = await self._run(
            lambda c: c.fetchrow(
                "select items, summary from public.call_transcripts where session_id = $1", sid
            )
        )
        if row is None:
            raise NotFound(f"no transcript for session {sid}")
        return list(row["items"]), row["summary"]

    async def get_usage(self, session_id: UUID | str) -> list[TokenUsage]:
        sid = parse_uuid(session_id, "session id")
        rows = await self._run(
            lambda c: c.fetch(
                "select model, input_tokens, output_tokens, input_audio_tokens,"
                " output_audio_tokens, audio_seconds from public.token_usage"
                " where session_id = $1 order by model",
                sid,
            )
        )
        return [TokenUsage.model_validate(dict(r)) for r in rows]

    async def write_turns(self, session_id: UUID | str, turns: Sequence[CallTurn]) -> None:
        sid = parse_uuid(session_id, "session id")
        rows = [validated(CallTurn, t.model_dump()) for t in turns]
        if not rows:
            return
        await self._run(
            lambda c: c.executemany(
                "insert into public.call_turns (session_id, turn, item_id, spoken_at, latency_s,"
                " model_ttfa_s, interrupted) values ($1, $2, $3, $4, $5, $6, $7)"
                " on conflict (session_id, turn) do update set item_id = excluded.item_id,"
                " spoken_at = excluded.spoken_at, latency_s = excluded.latency_s,"
                " model_ttfa_s = excluded.model_ttfa_s, interrupted = excluded.interrupted",
                [
                    (
                        sid,
                        t.turn,
                        t.item_id,
                        t.spoken_at,
                        t.latency_s,
                        t.model_ttfa_s,
                        t.interrupted,
                    )
                    for t in rows
                ],
            )
        )

    async def get_turns(self, session_id: UUID | str) -> list[CallTurn]:
        sid = parse_uuid(session_id, "session id")
        rows = await self._run(
            lambda c: c.fetch(
                f"select {TURN_COLUMNS} from public.call_turns"  # noqa: S608 (fixed column names)
                " where session_id = $1 order by turn",
                sid,
            )
        )
        return [CallTurn.model_validate(dict(r)) for r in rows]

    # --- analytics -----------------------------------------------------------------------------

    async def call_analytics(self, agent_id: UUID, window: AnalyticsWindow) -> CallAnalytics:
        args = analytics.arguments(agent_id, window)
        answer = await self._run(
            lambda c: c.fetchval(analytics.CALL_SQL, *(args[a] for a in analytics.ARGUMENTS))
        )
        return analytics.report(agent_id, window, answer)

    # --- leases --------------------------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        return bool(
            await self._run(
                lambda c: c.fetchval("select public.acquire_lease($1, $2, $3)", name, holder, ttl_s)
            )
        )

    async def renew_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        return bool(
            await self._run(
                lambda c: c.fetchval("select public.renew_lease($1, $2, $3)", name, holder, ttl_s)
            )
        )

    async def release_lease(self, name: str, holder: str) -> bool:
        return bool(
            await self._run(
                lambda c: c.fetchval("select public.release_lease($1, $2)", name, holder)
            )
        )

    # --- agent slots ---------------------------------------------------------------------------

    async def reserve_agent_slot(
        self, room: str, *, cap: int, listed: Sequence[str], ttl_s: float
    ) -> bool:
        return bool(
            await self._run(
                lambda c: c.fetchval(
                    "select public.reserve_agent_slot($1, $2, $3, $4)",
                    room,
                    cap,
                    list(listed),
                    ttl_s,
                )
            )
        )

    async def release_agent_slot(self, room: str) -> bool:
        return bool(
            await self._run(lambda c: c.fetchval("select public.release_agent_slot($1)", room))
        )

    async def release_agent_slots_except(self, live: Sequence[str], *, older_than_s: float) -> int:
        return int(
            await self._run(
                lambda c: c.fetchval(
                    "select public.release_agent_slots_except($1, $2)", list(live), older_than_s
                )
            )
        )

    # --- worker heartbeats ---------------------------------------------------------------------

    async def worker_heartbeat(self, beat: WorkerBeat, *, ttl_s: float) -> None:
        arguments = beat.arguments(ttl_s)
        named = ", ".join(f"{name} => ${i}" for i, name in enumerate(arguments, 1))
        sql = f"select public.worker_heartbeat({named})"
        await self._run(lambda c: c.execute(sql, *arguments.values()))

    async def worker_gone(self, worker_id: str) -> bool:
        return bool(
            await self._run(lambda c: c.fetchval("select public.worker_gone($1)", worker_id))
        )

    async def live_workers(self) -> list[WorkerHeartbeat]:
        rows = await self._run(lambda c: c.fetch("select * from public.live_workers()"))
        return workers_from_rows(rows)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            # The values were checked portable (`serialised`); never write NaN or Infinity.
            encoder=functools.partial(json.dumps, allow_nan=False),
            decoder=json.loads,
            schema="pg_catalog",
        )


def _retryable(exc: BaseException) -> bool:
    # A command that timed out may still be running, and it already spent the caller's time:
    # never again (TimeoutError is an OSError, so it is named here).
    return isinstance(exc, _TRANSIENT) and not isinstance(exc, TimeoutError)


def _translate(exc: BaseException) -> StoreError:
    """Maps asyncpg and network failures onto the domain errors."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict(f"already exists ({exc.constraint_name})")
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return NotFound(f"a referenced row does not exist ({exc.constraint_name})")
    if isinstance(
        exc,
        asyncpg.NotNullViolationError
        | asyncpg.CheckViolationError
        | asyncpg.DataError
        | asyncpg.InvalidParameterValueError,
    ):
        return InvalidInput(f"the database refused the value: {exc}")
    if isinstance(exc, TimeoutError):
        return StoreTimedOut(f"the database did not answer in time: {type(exc).__name__}")
    if isinstance(exc, _TRANSIENT):
        return StoreUnavailable(f"database unreachable: {type(exc).__name__}: {exc}")
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return StoreUnavailable(f"database error {getattr(exc, 'sqlstate', '')}: {exc}")
    log.error("store_unexpected_error", error_type=type(exc).__name__, exc_info=exc)
    return StoreUnavailable(f"unexpected store failure: {type(exc).__name__}")
