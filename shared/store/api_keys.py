"""API keys on both stores (`PostgresStore` and `SupabaseStore` inherit one mixin each): see
`shared.contracts.api_keys` for what a key is and the API keys migration for the table. A
store only ever sees a key's keyed hash (made by the backend, `backend.api_keys`), and never
hands a hash back out.

The writes with a rule in them are SQL functions both stores call (`create_api_key`: the
per-owner cap under a lock; `use_api_key`: find a key by hash and mark "last used" at most once
a minute), so the two stores cannot disagree.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from uuid import UUID

import asyncpg
from postgrest.exceptions import APIError
from supabase import AsyncClient

from shared.contracts.api_keys import MAX_API_KEYS_PER_OWNER, StoredApiKey
from shared.store.errors import Conflict, NotFound

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = PoolConnectionProxy[asyncpg.Record]

T = TypeVar("T")

# Never `key_hash`: a hash leaves the database only as the argument it was looked up by.
KEY_COLUMNS = "id,owner_id,name,prefix,created_at,last_used_at"
# Raised by `create_api_key` at the per-owner cap.
TOO_MANY_KEYS = "VXK01"


class TooManyApiKeys(Conflict):
    """The owner already has MAX_API_KEYS_PER_OWNER keys."""


def too_many_keys() -> TooManyApiKeys:
    return TooManyApiKeys(
        f"an owner has at most {MAX_API_KEYS_PER_OWNER} API keys: revoke one you no longer use"
    )


def key_from_row(row: Any) -> StoredApiKey:
    return StoredApiKey.model_validate(dict(row))


class PostgresApiKeys:
    @abstractmethod
    async def _run(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """PostgresStore's: one round trip under its deadline and breaker."""

    async def create_api_key(
        self, owner_id: UUID, name: str, prefix: str, key_hash: str
    ) -> StoredApiKey:
        async def op(c: Conn) -> Any:
            try:
                return await c.fetchval(
                    "select public.create_api_key($1, $2, $3, $4, $5)",
                    owner_id,
                    name,
                    prefix,
                    key_hash,
                    MAX_API_KEYS_PER_OWNER,
                )
            except asyncpg.PostgresError as exc:
                if getattr(exc, "sqlstate", None) == TOO_MANY_KEYS:
                    raise too_many_keys() from None
                raise

        return key_from_row(await self._run(op))

    async def list_api_keys(self, owner_id: UUID) -> list[StoredApiKey]:
        rows = await self._run(
            lambda c: c.fetch(
                f"select {KEY_COLUMNS} from public.api_keys"  # noqa: S608
                " where owner_id = $1 order by created_at, id",
                owner_id,
            )
        )
        return [key_from_row(row) for row in rows]

    async def delete_api_key(self, key_id: UUID, owner_id: UUID | None) -> StoredApiKey:
        row = await self._run(
            lambda c: c.fetchrow(
                "delete from public.api_keys where id = $1"  # noqa: S608
                " and ($2::uuid is null or owner_id = $2)"
                f" returning {KEY_COLUMNS}",
                key_id,
                owner_id,
            )
        )
        if row is None:
            raise NotFound(f"no API key {key_id}")
        return key_from_row(row)

    async def use_api_key(self, key_hashes: Sequence[str]) -> StoredApiKey | None:
        found = await self._run(
            lambda c: c.fetchval("select public.use_api_key($1)", list(key_hashes))
        )
        return None if found is None else key_from_row(found)


class SupabaseApiKeys:
    _client: AsyncClient

    @abstractmethod
    async def _run(self, request: Callable[[], Awaitable[T]]) -> T:
        """SupabaseStore's: one request under its deadline and breaker."""

    @abstractmethod
    async def _rows(self, request: Callable[[], Awaitable[Any]]) -> list[dict[str, Any]]:
        """SupabaseStore's: a request's rows."""

    async def create_api_key(
        self, owner_id: UUID, name: str, prefix: str, key_hash: str
    ) -> StoredApiKey:
        params = {
            "p_owner": str(owner_id),
            "p_name": name,
            "p_prefix": prefix,
            "p_hash": key_hash,
            "p_limit": MAX_API_KEYS_PER_OWNER,
        }

        async def request() -> Any:
            try:
                return (await self._client.rpc("create_api_key", params).execute()).data
            except APIError as exc:
                if exc.code == TOO_MANY_KEYS:
                    raise too_many_keys() from None
                raise

        return key_from_row(await self._run(request))

    async def list_api_keys(self, owner_id: UUID) -> list[StoredApiKey]:
        rows = await self._rows(
            self._client.table("api_keys")
            .select(KEY_COLUMNS)
            .eq("owner_id", str(owner_id))
            .order("created_at")
            .order("id")
            .execute
        )
        return [key_from_row(row) for row in rows]

    async def delete_api_key(self, key_id: UUID, owner_id: UUID | None) -> StoredApiKey:
        query = self._client.table("api_keys").delete().eq("id", str(key_id))
        if owner_id is not None:
            query = query.eq("owner_id", str(owner_id))
        rows = await self._rows(query.execute)
        if not rows:
            raise NotFound(f"no API key {key_id}")
        return key_from_row({k: rows[0][k] for k in KEY_COLUMNS.split(",")})

    async def use_api_key(self, key_hashes: Sequence[str]) -> StoredApiKey | None:
        params = {"p_hashes": list(key_hashes)}
        response = await self._run(self._client.rpc("use_api_key", params).execute)
        return key_from_row(response.data) if isinstance(response.data, dict) else None
