"""Agent versions on the Supabase store (`SupabaseStore` inherits these): the writes are the
versions migration's SQL functions called by RPC; see `shared.store.versions`."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from postgrest.exceptions import APIError
from postgrest.types import CountMethod
from supabase import AsyncClient

from shared.contracts.versions import AgentVersion
from shared.store.base import Page, check_page, parse_uuid
from shared.store.errors import InvalidInput, NotFound
from shared.store.versions import (
    VERSION_COLUMNS,
    VersionWrites,
    check_version_number,
    version_error,
    version_from_row,
)

T = TypeVar("T")


class RangeNotSatisfiable(InvalidInput):
    """PGRST103: the requested page starts past the last row."""


class SupabaseVersions(VersionWrites):
    _client: AsyncClient

    @abstractmethod
    async def _run(self, request: Callable[[], Awaitable[T]]) -> T:
        """SupabaseStore's: one request under its deadline and breaker."""

    @abstractmethod
    async def _rows(self, request: Callable[[], Awaitable[Any]]) -> list[dict[str, Any]]:
        """SupabaseStore's: a request's rows."""

    async def _version_call(self, function: str, params: dict[str, Any]) -> Any:
        async def request() -> Any:
            try:
                return (await self._client.rpc(function, params).execute()).data
            except APIError as exc:
                refused = version_error(exc.code, exc.message or str(exc), exc.details)
                if refused is None:
                    raise
                raise refused from None

        return await self._run(request)

    async def list_versions(
        self,
        agent_id: UUID | str,
        *,
        owner_id: UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[AgentVersion]:
        check_page(limit, offset)
        agent = await self.get_agent(agent_id, owner_id=owner_id)

        def query(columns: str) -> Any:
            table = self._client.table("agent_versions")
            return table.select(columns, count=CountMethod.exact).eq("agent_id", str(agent.id))

        try:
            response = await self._run(
                query(VERSION_COLUMNS)
                .order("version", desc=True)
                .limit(limit)
                .offset(offset)
                .execute
            )
        except RangeNotSatisfiable:  # an offset past the end: an empty page, with the total
            response = await self._run(query("version").limit(1).execute)
            return Page([], response.count or 0, limit, offset)
        rows = response.data if isinstance(response.data, list) else []
        total = response.count if response.count is not None else len(rows)
        return Page([version_from_row(r) for r in rows], total, limit, offset)

    async def get_version(
        self, agent_id: UUID | str, version: int, *, owner_id: UUID | None = None
    ) -> AgentVersion:
        agent_uuid = parse_uuid(agent_id, "agent id")
        check_version_number(version)
        if owner_id is not None:
            await self.get_agent(agent_uuid, owner_id=owner_id)
        rows = await self._rows(
            self._client.table("agent_versions")
            .select(VERSION_COLUMNS)
            .eq("agent_id", str(agent_uuid))
            .eq("version", version)
            .execute
        )
        if not rows:
            raise NotFound(f"agent {agent_uuid} has no version {version}")
        return version_from_row(rows[0])
