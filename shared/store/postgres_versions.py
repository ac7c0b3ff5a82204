"""Agent versions on the Postgres store (`PostgresStore` inherits these): see
`shared.store.versions` for what the two stores share."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from uuid import UUID

import asyncpg

from shared.contracts.versions import AgentVersion
from shared.store.base import Page, check_page, parse_uuid
from shared.store.errors import NotFound
from shared.store.versions import (
    VersionWrites,
    check_version_number,
    version_error,
    version_from_row,
)

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # A pooled connection, as PostgresStore's operations get it.
    Conn: TypeAlias = PoolConnectionProxy[asyncpg.Record]

T = TypeVar("T")


class PostgresVersions(VersionWrites):
    @abstractmethod
    async def _run(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """PostgresStore's: one round trip under its deadline and breaker."""

    @abstractmethod
    async def _page(
        self,
        table: str,
        where: str,
        order_by: str,
        args: Sequence[Any],
        limit: int,
        offset: int,
    ) -> tuple[list[asyncpg.Record], int]:
        """PostgresStore's: a page of rows and the total, in one snapshot."""

    async def _version_call(self, function: str, params: dict[str, Any]) -> Any:
        # Named arguments: the names are the functions' own (never input).
        arguments = ", ".join(f"{name} => ${i}" for i, name in enumerate(params, 1))
        sql = f"select public.{function}({arguments})"

        async def op(c: Conn) -> Any:
            try:
                return await c.fetchval(sql, *params.values())
            except asyncpg.PostgresError as exc:
                refused = version_error(
                    getattr(exc, "sqlstate", None), str(exc), getattr(exc, "detail", None)
                )
                if refused is None:
                    raise
                raise refused from None

        return await self._run(op)

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

        rows, total = await self._page(
            "agent_versions", "agent_id = $1", "version desc", (agent.id,), limit, offset
        )
        return Page([version_from_row(r) for r in rows], total, limit, offset)

    async def get_version(
        self, agent_id: UUID | str, version: int, *, owner_id: UUID | None = None
    ) -> AgentVersion:
        agent_uuid = parse_uuid(agent_id, "agent id")
        check_version_number(version)
        row = await self._run(
            lambda c: c.fetchrow(
                "select v.* from public.agent_versions v join public.agents a on a.id = v.agent_id"
                " where v.agent_id = $1 and v.version = $2"
                " and ($3::uuid is null or a.owner_id = $3)",
                agent_uuid,
                version,
                owner_id,
            )
        )
        if row is None:
            raise NotFound(f"agent {agent_uuid} has no version {version}")
        return version_from_row(row)
