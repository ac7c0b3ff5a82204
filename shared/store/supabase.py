"""`SupabaseStore`: the AgentStore over Supabase's REST API (PostgREST) with supabase-py.

Uses the service-role key, which bypasses RLS as on Supabase: authorisation is the caller's
job (the backend scopes by `owner_id`). Writes that must be atomic live in SQL functions
(`acquire_lease`, ...) called by RPC; optimistic concurrency is a filtered PATCH
(`id=eq.X&version=eq.N`) against the version the database trigger bumps.

supabase-py itself retries GETs on 503/520 and network failures; writes are retried here only
when the request never reached the server (connect errors).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import httpx
from postgrest.exceptions import APIError
from supabase import AsyncClient, AsyncClientOptions, acreate_client

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
from shared.contracts.sessions import end_replaces
from shared.contracts.workers import WorkerBeat, WorkerHeartbeat
from shared.store import analytics
from shared.store.api_keys import SupabaseApiKeys
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
from shared.store.search import SEARCHED_COLUMNS, AgentSearch, agent_search
from shared.store.secrets import SupabaseSecrets
from shared.store.supabase_versions import RangeNotSatisfiable, SupabaseVersions
from shared.store.webhooks import SupabaseWebhooks

T = TypeVar("T")

_INVALID_CODES = {
    "22P02",
    "22023",
    "22007",
    "22008",
    "22001",
    "23502",
    "23514",
    "42703",
    "PGRST102",
}


class SupabaseStore(SupabaseVersions, SupabaseSecrets, SupabaseApiKeys, SupabaseWebhooks):
    def __init__(self, client: AsyncClient, *, attempts: int = 3, guard: StoreGuard) -> None:
        self._client = client
        self._attempts = attempts
        self._guard = guard

    @classmethod
    async def connect(
        cls,
        url: str,
        service_role_key: str,
        *,
        timeout_s: float = 5.0,
        attempts: int = 3,
        client_retry: bool = True,
    ) -> SupabaseStore:
        """`timeout_s`: the deadline of one REST round trip in all (see StoreGuard)."""
        try:
            client = await acreate_client(
                url,
                service_role_key,
                options=AsyncClientOptions(
                    postgrest_client_timeout=timeout_s,
                    # supabase-py's own GET retries (1/2/4 s on 503/520 and network errors).
                    postgrest_client_retry=client_retry,
                    auto_refresh_token=False,
                    persist_session=False,
                ),
            )
        except Exception as exc:  # supabase raises its own exception for a malformed url/key
            raise InvalidInput(f"cannot create the Supabase client: {exc}") from None
        return cls(client, attempts=attempts, guard=StoreGuard(timeout_s))

    # --- plumbing ------------------------------------------------------------------------------

    async def _run(self, request: Callable[[], Awaitable[T]]) -> T:
        return await self._guard.run(lambda: self._attempt(request))

    async def _attempt(self, request: Callable[[], Awaitable[T]]) -> T:
        try:
            # Only a failed connect is surely unsent; other failures may have been applied.
            async for attempt in retrying(
                self._attempts, lambda e: isinstance(e, httpx.ConnectError)
            ):
                with attempt:
                    return await request()
        except StoreError:
            raise
        except APIError as exc:
            raise _translate(exc) from exc
        except httpx.TimeoutException as exc:
            raise StoreTimedOut(f"Supabase did not answer in time: {type(exc).__name__}") from exc
        except (httpx.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"Supabase unreachable: {type(exc).__name__}") from exc
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    async def _rows(self, request: Callable[[], Awaitable[Any]]) -> list[dict[str, Any]]:
        response = await self._run(request)
        data = response.data
        return data if isinstance(data, list) else [data] if data else []

    async def _page(
        self, query: Callable[[str], Any], newest_first_by: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page, newest first, with the exact total."""
        try:
            response = await self._run(
                query("*")
                .order(newest_first_by, desc=True)
                .order("id")
                .limit(limit)
                .offset(offset)
                .execute
            )
        except RangeNotSatisfiable:
            # PostgREST answers 416 for an offset past the end, without the count: ask for it.
            response = await self._run(query("id").limit(1).execute)
            return [], response.count or 0
        return response.data, response.count or 0

    def _table(self, name: str) -> Any:
        return self._client.table(name)

    async def ping(self) -> None:
        await self._rows(lambda: self._table("leases").select("name").limit(1).execute())

    async def close(self) -> None:
        await self._client.postgrest.aclose()

    # --- agents --------------------------------------------------------------------------------

    async def _agent_row(self, agent_id: UUID | str, owner_id: UUID | None) -> dict[str, Any]:
        agent_uuid = parse_uuid(agent_id, "agent id")
        query = self._table("agents").select("*").eq("id", str(agent_uuid))
        if owner_id is not None:
            query = query.eq("owner_id", str(owner_id))
        rows = await self._rows(query.limit(1).execute)
        if not rows:
            raise NotFound(f"no agent {agent_uuid}")
        return rows[0]

    async def get_agent(self, agent_id: UUID | str, *, owner_id: UUID | None = None) -> AgentConfig:
        return agent_from_row(await self._agent_row(agent_id, owner_id))

    async def get_agent_by_slug(self, owner_id: UUID, slug: str) -> AgentConfig:
        wanted = canonical_slug(slug)
        rows = await self._rows(
            self._table("agents")
            .select("*")
            .eq("owner_id", str(owner_id))
            .eq("slug", wanted)
            .order("updated_at", desc=True)
            .execute
        )
        if rows:
            # A live agent wins over archived ones that once had the slug.
            rows.sort(key=lambda r: r["status"] == AgentStatus.ARCHIVED.value)
            return agent_from_row(rows[0])
        known = await self._rows(
            self._table("agents")
            .select("slug")
            .eq("owner_id", str(owner_id))
            .neq("status", AgentStatus.ARCHIVED.value)
            .execute
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

        def query(columns: str) -> Any:
            q = self._table("agents").select(columns, count="exact")
            if owner_id is not None:
                q = q.eq("owner_id", str(owner_id))
            if not include_archived:
                q = q.neq("status", AgentStatus.ARCHIVED.value)
            if found is not None:
                q = q.or_(_search_tree(found))
            return q

        rows, total = await self._page(query, "updated_at", limit, offset)
        agents, unreadable = readable_agents(rows)
        return Page(agents, total, limit, offset, unreadable)

    async def agent_call_stats(self, agent_ids: Sequence[UUID]) -> dict[UUID, CallStats]:
        if not agent_ids:
            return {}
        params = {"p_agent_ids": [str(a) for a in agent_ids]}
        rows = await self._rows(self._client.rpc("agent_call_stats", params).execute)
        return call_stats_from_rows(agent_ids, rows)

    async def agent_names(
        self, agent_ids: Sequence[UUID], *, owner_id: UUID | None = None
    ) -> dict[UUID, str]:
        if not agent_ids:
            return {}
        query = self._table("agents").select("id,name").in_("id", [str(a) for a in agent_ids])
        if owner_id is not None:
            query = query.eq("owner_id", str(owner_id))
        rows = await self._rows(query.execute)
        return {UUID(row["id"]): row["name"] for row in rows}

    async def get_agent_row(
        self, agent_id: UUID | str, *, owner_id: UUID | None = None
    ) -> dict[str, Any]:
        return raw_row(await self._agent_row(agent_id, owner_id))

    async def create_agent(self, new: NewAgent) -> AgentConfig:
        new, values = serialised(NewAgent, new)
        agent_id = uuid4()
        row = {"id": str(agent_id), **values}
        try:
            rows = await self._rows(self._table("agents").insert(row).execute)
        except Conflict as exc:
            if "agents_pkey" in str(exc):  # a retried insert that had landed: it is ours
                return await self.get_agent(agent_id)
            raise slug_taken(new.slug) from None
        return agent_from_row(rows[0])

    async def update_agent(
        self,
        agent_id: UUID | str,
        patch: AgentPatch,
        *,
        expected_version: int,
        owner_id: UUID | None = None,
    ) -> AgentConfig:
        current = await self.get_agent(agent_id, owner_id=owner_id)
        if current.version != expected_version:
            raise stale_version(current.id, current.version, expected_version)
        merged, serialised_values = serialised(AgentConfig, apply_patch(current, patch))
        values = {column: serialised_values[column] for column in AGENT_COLUMNS}
        try:
            rows = await self._rows(
                self._table("agents")
                .update(values)
                .eq("id", str(current.id))
                .eq("version", expected_version)
                .execute
            )
        except Conflict:
            raise slug_taken(merged.slug) from None
        if rows:
            return agent_from_row(rows[0])
        # Zero rows: changed (or deleted) between our read and our write.
        latest = await self.get_agent(current.id)
        raise stale_version(latest.id, latest.version, expected_version)

    async def archive_agent(
        self, agent_id: UUID | str, *, owner_id: UUID | None = None
    ) -> AgentConfig:
        agent_uuid = parse_uuid(agent_id, "agent id")
        query = (
            self._table("agents")
            .update({"status": AgentStatus.ARCHIVED.value})
            .eq("id", str(agent_uuid))
            .neq("status", AgentStatus.ARCHIVED.value)
        )
        if owner_id is not None:
            query = query.eq("owner_id", str(owner_id))
        rows = await self._rows(query.execute)
        return (
            agent_from_row(rows[0]) if rows else await self.get_agent(agent_uuid, owner_id=owner_id)
        )

    async def delete_agent(self, agent_id: UUID | str, *, owner_id: UUID | None = None) -> None:
        agent_uuid = parse_uuid(agent_id, "agent id")
        query = self._table("agents").delete().eq("id", str(agent_uuid))
        if owner_id is not None:
            query = query.eq("owner_id", str(owner_id))
        if not await self._rows(query.execute):
            raise NotFound(f"no agent {agent_uuid}")

    # --- sessions ------------------------------------------------------------------------------

    async def start_session(self, new: NewCallSession) -> CallSession:
        new = validated(NewCallSession, new.model_dump())
        session_id = new.id or uuid4()
        row = {**new.model_dump(mode="json"), "id": str(session_id)}
        rows = await self._rows(
            self._table("call_sessions")
            .upsert(row, on_conflict="id", ignore_duplicates=True)
            .execute
        )
        if not rows and new.job_id is not None:  # there already: the job claims an open row
            rows = await self._rows(
                self._table("call_sessions")
                .update({"job_id": new.job_id})
                .eq("id", str(session_id))
                .eq("status", SessionStatus.ACTIVE.value)
                .is_("job_id", "null")
                .execute
            )
        return session_from_row(rows[0]) if rows else await self.get_session(session_id)

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
        current = await self.get_session(sid)
        replacing = current.status is not SessionStatus.ACTIVE
        if replacing and not end_replaces(current.end_reason, end_reason):
            return current
        # PostgREST cannot say greatest(now(), started_at): clamp here instead.
        end = max(ended_at or datetime.now(current.started_at.tzinfo), current.started_at)
        update = (
            self._table("call_sessions")
            .update(
                {
                    "status": status.value,
                    "end_reason": end_reason.value,
                    "error": error[:2000] if error else None,
                    "ended_at": end.isoformat(),
                }
            )
            .eq("id", str(sid))
            # Compare and set: only the row as read changes (a concurrent end wins).
            .eq("status", current.status.value)
        )
        if replacing and current.end_reason is not None:
            update = update.eq("end_reason", current.end_reason.value)
        rows = await self._rows(update.execute)
        return session_from_row(rows[0]) if rows else await self.get_session(sid)

    async def mark_ending(self, session_id: UUID | str) -> None:
        sid = parse_uuid(session_id, "session id")
        await self._rows(
            self._table("call_sessions")
            .update({"ending_at": datetime.now(UTC).isoformat()})
            .eq("id", str(sid))
            .eq("status", SessionStatus.ACTIVE.value)
            .is_("ending_at", "null")
            .execute
        )

    async def get_session(self, session_id: UUID | str) -> CallSession:
        sid = parse_uuid(session_id, "session id")
        rows = await self._rows(
            self._table("call_sessions").select("*").eq("id", str(sid)).limit(1).execute
        )
        if not rows:
            raise NotFound(f"no session {sid}")
        return session_from_row(rows[0])

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

        def query(columns: str) -> Any:
            q = self._table("call_sessions").select(columns, count="exact")
            if agent_id is not None:
                q = q.eq("agent_id", str(agent_id))
            if owner_id is not None:
                q = q.eq("owner_id", str(owner_id))
            if room_name is not None:
                q = q.eq("room_name", room_name)
            if kind is not None:
                q = q.eq("kind", kind.value)
            if open_only:
                q = q.eq("status", SessionStatus.ACTIVE.value)
            return q

        rows, total = await self._page(query, "started_at", limit, offset)
        return Page([session_from_row(r) for r in rows], total, limit, offset)

    async def write_transcript(
        self, session_id: UUID | str, items: Sequence[dict[str, Any]], summary: str | None = None
    ) -> None:
        sid = parse_uuid(session_id, "session id")
        _, values = serialised(
            Transcript,
            validated(Transcript, {"session_id": sid, "items": list(items), "summary": summary}),
        )
        await self._run(
            self._table("call_transcripts").upsert(values, on_conflict="session_id").execute
        )

    async def write_usage(self, session_id: UUID | str, usage: Sequence[TokenUsage]) -> None:
        sid = parse_uuid(session_id, "session id")
        rows = [
            {
                "session_id": str(sid),
                **validated(TokenUsage, u.model_dump()).model_dump(mode="json"),
            }
            for u in usage
        ]
        if rows:
            await self._run(
                self._table("token_usage").upsert(rows, on_conflict="session_id,model").execute
            )

    async def get_transcript(
        self, session_id: UUID | str
    ) -> tuple[list[dict[str, Any]], str | None]:
        sid = parse_uuid(session_id, "session id")
        rows = await self._rows(
            self._table("call_transcripts")
            .select("items,summary")
            .eq("session_id", str(sid))
            .execute
        )
        if not rows:
            raise NotFound(f"no transcript for session {sid}")
        return list(rows[0]["items"]), rows[0]["summary"]

    async def get_usage(self, session_id: UUID | str) -> list[TokenUsage]:
        sid = parse_uuid(session_id, "session id")
        rows = await self._rows(
            self._table("token_usage")
            .select(
                "model,input_tokens,output_tokens,input_audio_tokens,output_audio_tokens,"
                "audio_seconds"
            )
            .eq("session_id", str(sid))
            .order("model")
            .execute
        )
        return [TokenUsage.model_validate(r) for r in rows]

    async def write_turns(self, session_id: UUID | str, turns: Sequence[CallTurn]) -> None:
        sid = parse_uuid(session_id, "session id")
        rows = [
            {"session_id": str(sid), **validated(CallTurn, t.model_dump()).model_dump(mode="json")}
            for t in turns
        ]
        if rows:
            await self._run(
                self._table("call_turns").upsert(rows, on_conflict="session_id,turn").execute
            )

    async def get_turns(self, session_id: UUID | str) -> list[CallTurn]:
        sid = parse_uuid(session_id, "session id")
        rows = await self._rows(
            self._table("call_turns")
            .select(TURN_COLUMNS)
            .eq("session_id", str(sid))
            .order("turn")
            .execute
        )
        return [CallTurn.model_validate(r) for r in rows]

    # --- analytics -----------------------------------------------------------------------------

    async def call_analytics(self, agent_id: UUID, window: AnalyticsWindow) -> CallAnalytics:
        params = analytics.json_arguments(agent_id, window)
        response = await self._run(self._client.rpc(analytics.FUNCTION, params).execute)
        return analytics.report(agent_id, window, response.data)

    # --- leases --------------------------------------------------------------------------------

    async def _lease_call(self, fn: str, params: dict[str, Any]) -> bool:
        response = await self._run(self._client.rpc(fn, params).execute)
        return bool(response.data)

    async def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        return await self._lease_call(
            "acquire_lease", {"p_name": name, "p_holder": holder, "p_ttl_s": ttl_s}
        )

    async def renew_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        return await self._lease_call(
            "renew_lease", {"p_name": name, "p_holder": holder, "p_ttl_s": ttl_s}
        )

    async def release_lease(self, name: str, holder: str) -> bool:
        return await self._lease_call("release_lease", {"p_name": name, "p_holder": holder})

    # --- agent slots ---------------------------------------------------------------------------

    async def reserve_agent_slot(
        self, room: str, *, cap: int, listed: Sequence[str], ttl_s: float
    ) -> bool:
        params = {"p_room": room, "p_cap": cap, "p_listed": list(listed), "p_ttl_s": ttl_s}
        response = await self._run(self._client.rpc("reserve_agent_slot", params).execute)
        return bool(response.data)

    async def release_agent_slot(self, room: str) -> bool:
        response = await self._run(self._client.rpc("release_agent_slot", {"p_room": room}).execute)
        return bool(response.data)

    async def release_agent_slots_except(self, live: Sequence[str], *, older_than_s: float) -> int:
        params = {"p_live": list(live), "p_older_than_s": older_than_s}
        response = await self._run(self._client.rpc("release_agent_slots_except", params).execute)
        released = response.data
        return released if isinstance(released, int) else 0

    # --- worker heartbeats ---------------------------------------------------------------------

    async def worker_heartbeat(self, beat: WorkerBeat, *, ttl_s: float) -> None:
        await self._run(self._client.rpc("worker_heartbeat", beat.arguments(ttl_s)).execute)

    async def worker_gone(self, worker_id: str) -> bool:
        response = await self._run(
            self._client.rpc("worker_gone", {"p_worker_id": worker_id}).execute
        )
        return response.data is True

    async def live_workers(self) -> list[WorkerHeartbeat]:
        rows = await self._rows(self._client.rpc("live_workers", {}).execute)
        return workers_from_rows(rows)


def _search_tree(search: AgentSearch) -> str:
    """The search as the members of a PostgREST `or=(…)` tree (shared.store.search)."""
    pattern = _quoted(search.pattern)
    members = [f"{column}.imatch.{pattern}" for column in SEARCHED_COLUMNS]
    if search.owner_ids is not None:
        low, high = search.owner_ids
        members.append(f"and(owner_id.gte.{low},owner_id.lte.{high})")
    return ",".join(members)


def _quoted(value: str) -> str:
    """`value` double-quoted for a logic tree, where `,` `.` `(` `)` `:` would be syntax; inside
    the quotes a backslash escapes the next character (PostgREST's `pQuotedValue`)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _translate(exc: APIError) -> StoreError:
    """Maps PostgREST's error answers (Postgres SQLSTATEs and PGRST codes) onto domain errors."""
    code = exc.code or ""
    detail = exc.message or str(exc)
    if code == "23505":
        return Conflict(f"already exists: {detail}")
    if code == "23503":
        return NotFound(f"a referenced row does not exist: {detail}")
    if code == "PGRST103":
        return RangeNotSatisfiable(detail)
    if code == "PGRST116":
        return NotFound(detail)
    if code in _INVALID_CODES:
        return InvalidInput(f"the database refused the value: {detail}")
    return StoreUnavailable(f"Supabase error {code or '(no code)'}: {detail}")
