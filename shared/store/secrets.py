"""Owner secrets and egress on both stores (`PostgresStore` and `SupabaseStore` inherit one
mixin each): see `shared.contracts.secrets` for the rule and the owner secrets migration for
the tables. Values arrive here sealed (`shared.secret_box`) and leave sealed; a store never
holds a key.

The writes with a rule in them are SQL functions both stores call (`create_owner_secret`:
the per-owner cap under a lock; `use_owner_secrets`: read and mark "last used" at most once a
minute), so the two stores cannot disagree.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from uuid import UUID

import asyncpg
from postgrest.exceptions import APIError
from pydantic import ValidationError
from supabase import AsyncClient

from shared.contracts.secrets import MAX_SECRETS_PER_OWNER, EgressPolicy, StoredSecret
from shared.logging import get_logger
from shared.store.errors import Conflict, InvalidInput, NotFound
from shared.validation import describe_validation_error

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = PoolConnectionProxy[asyncpg.Record]

T = TypeVar("T")
log = get_logger(__name__)

SECRET_COLUMNS = "owner_id,name,hosts,ciphertext,created_at,last_used_at"  # noqa: S105
EGRESS_COLUMNS = "owner_id,allow,updated_at"
# Raised by `create_owner_secret` at the per-owner cap.
TOO_MANY_SECRETS = "VXS01"


class TooManySecrets(Conflict):
    """The owner already has MAX_SECRETS_PER_OWNER secrets."""


def too_many() -> TooManySecrets:
    return TooManySecrets(
        f"an owner has at most {MAX_SECRETS_PER_OWNER} secrets: delete one you no longer use"
    )


def secret_from_row(row: Any) -> StoredSecret:
    try:
        return StoredSecret.model_validate(dict(row))
    except ValidationError as exc:
        # Names only: a row's ciphertext never reaches a message.
        detail = describe_validation_error(exc)
        raise InvalidInput(f"a stored secret fails validation: {detail}") from None


def readable_secrets(rows: Sequence[Any]) -> list[StoredSecret]:
    """The rows that pass the contract; one that does not is logged by name and left out (it
    can only have been written around the API, and is then unusable as a missing secret)."""
    found = []
    for row in rows:
        try:
            found.append(secret_from_row(row))
        except InvalidInput as exc:
            log.error("secret_unreadable", owner_id=str(row.get("owner_id")), error=str(exc))
    return found


def egress_from_row(owner_id: UUID, row: Any | None) -> EgressPolicy:
    if row is None:
        return EgressPolicy(owner_id=owner_id, allow=[])
    return EgressPolicy.model_validate(
        {"owner_id": row["owner_id"], "allow": row["allow"], "updated_at": row["updated_at"]}
    )


class PostgresSecrets:
    @abstractmethod
    async def _run(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """PostgresStore's: one round trip under its deadline and breaker."""

    async def create_secret(
        self, owner_id: UUID, name: str, hosts: Sequence[str], ciphertext: str
    ) -> StoredSecret:
        async def op(c: Conn) -> Any:
            try:
                return await c.fetchval(
                    "select public.create_owner_secret($1, $2, $3, $4, $5)",
                    owner_id,
                    name,
                    list(hosts),
                    ciphertext,
                    MAX_SECRETS_PER_OWNER,
                )
            except asyncpg.PostgresError as exc:
                if getattr(exc, "sqlstate", None) == TOO_MANY_SECRETS:
                    raise too_many() from None
                if isinstance(exc, asyncpg.UniqueViolationError):
                    raise Conflict(f"you already have a secret named {name}") from None
                raise

        return secret_from_row(await self._run(op))

    async def list_secrets(self, owner_id: UUID) -> list[StoredSecret]:
        rows = await self._run(
            lambda c: c.fetch(
                f"select {SECRET_COLUMNS} from public.owner_secrets"  # noqa: S608
                " where owner_id = $1 order by name",
                owner_id,
            )
        )
        return readable_secrets(rows)

    async def delete_secret(self, owner_id: UUID, name: str) -> None:
        deleted = await self._run(
            lambda c: c.fetchval(
                "delete from public.owner_secrets where owner_id = $1 and name = $2 returning name",
                owner_id,
                name,
            )
        )
        if deleted is None:
            raise NotFound(f"no secret {name}")

    async def use_secrets(self, owner_id: UUID, names: Sequence[str]) -> list[StoredSecret]:
        rows = await self._run(
            lambda c: c.fetchval(
                "select public.use_owner_secrets($1, $2)", owner_id, list(dict.fromkeys(names))
            )
        )
        return readable_secrets(rows or [])

    async def reseal_secret(self, owner_id: UUID, name: str, old: str, new: str) -> bool:
        updated = await self._run(
            lambda c: c.fetchval(
                "update public.owner_secrets set ciphertext = $4"
                " where owner_id = $1 and name = $2 and ciphertext = $3 returning name",
                owner_id,
                name,
                old,
                new,
            )
        )
        return updated is not None

    async def all_secrets(self) -> list[StoredSecret]:
        rows = await self._run(
            lambda c: c.fetch(
                f"select {SECRET_COLUMNS} from public.owner_secrets"  # noqa: S608
                " order by owner_id, name"
            )
        )
        return readable_secrets(rows)

    async def get_egress(self, owner_id: UUID) -> EgressPolicy:
        row = await self._run(
            lambda c: c.fetchrow(
                f"select {EGRESS_COLUMNS} from public.owner_egress"  # noqa: S608
                " where owner_id = $1",
                owner_id,
            )
        )
        return egress_from_row(owner_id, row)

    async def set_egress(
        self, owner_id: UUID, allow: Sequence[str], *, updated_by: str
    ) -> EgressPolicy:
        row = await self._run(
            lambda c: c.fetchrow(
                "insert into public.owner_egress (owner_id, allow, updated_by)"  # noqa: S608
                " values ($1, $2, $3) on conflict (owner_id) do update"
                " set allow = excluded.allow, updated_by = excluded.updated_by,"
                " updated_at = now()"
                f" returning {EGRESS_COLUMNS}",
                owner_id,
                list(allow),
                updated_by,
            )
        )
        return egress_from_row(owner_id, row)


class SupabaseSecrets:
    _client: AsyncClient

    @abstractmethod
    async def _run(self, request: Callable[[], Awaitable[T]]) -> T:
        """SupabaseStore's: one request under its deadline and breaker."""

    @abstractmethod
    async def _rows(self, request: Callable[[], Awaitable[Any]]) -> list[dict[str, Any]]:
        """SupabaseStore's: a request's rows."""

    async def create_secret(
        self, owner_id: UUID, name: str, hosts: Sequence[str], ciphertext: str
    ) -> StoredSecret:
        params = {
            "p_owner": str(owner_id),
            "p_name": name,
            "p_hosts": list(hosts),
            "p_ciphertext": ciphertext,
            "p_limit": MAX_SECRETS_PER_OWNER,
        }

        async def request() -> Any:
            try:
                return (await self._client.rpc("create_owner_secret", params).execute()).data
            except APIError as exc:
                if exc.code == TOO_MANY_SECRETS:
                    raise too_many() from None
                if exc.code == "23505":
                    raise Conflict(f"you already have a secret named {name}") from None
                raise

        return secret_from_row(await self._run(request))

    async def list_secrets(self, owner_id: UUID) -> list[StoredSecret]:
        rows = await self._rows(
            self._client.table("owner_secrets")
            .select(SECRET_COLUMNS)
            .eq("owner_id", str(owner_id))
            .order("name")
            .execute
        )
        return readable_secrets(rows)

    async def delete_secret(self, owner_id: UUID, name: str) -> None:
        rows = await self._rows(
            self._client.table("owner_secrets")
            .delete()
            .eq("owner_id", str(owner_id))
            .eq("name", name)
            .execute
        )
        if not rows:
            raise NotFound(f"no secret {name}")

    async def use_secrets(self, owner_id: UUID, names: Sequence[str]) -> list[StoredSecret]:
        params = {"p_owner": str(owner_id), "p_names": list(dict.fromkeys(names))}
        response = await self._run(self._client.rpc("use_owner_secrets", params).execute)
        return readable_secrets(response.data if isinstance(response.data, list) else [])

    async def reseal_secret(self, owner_id: UUID, name: str, old: str, new: str) -> bool:
        rows = await self._rows(
            self._client.table("owner_secrets")
            .update({"ciphertext": new})
            .eq("owner_id", str(owner_id))
            .eq("name", name)
            .eq("ciphertext", old)
            .execute
        )
        return bool(rows)

    async def all_secrets(self) -> list[StoredSecret]:
        rows = await self._rows(
            self._client.table("owner_secrets")
            .select(SECRET_COLUMNS)
            .order("owner_id")
            .order("name")
            .execute
        )
        return readable_secrets(rows)

    async def get_egress(self, owner_id: UUID) -> EgressPolicy:
        rows = await self._rows(
            self._client.table("owner_egress")
            .select(EGRESS_COLUMNS)
            .eq("owner_id", str(owner_id))
            .execute
        )
        return egress_from_row(owner_id, rows[0] if rows else None)

    async def set_egress(
        self, owner_id: UUID, allow: Sequence[str], *, updated_by: str
    ) -> EgressPolicy:
        row = {
            "owner_id": str(owner_id),
            "allow": list(allow),
            "updated_by": updated_by,
            "updated_at": datetime.now(UTC).isoformat(),
        }
        rows = await self._rows(
            self._client.table("owner_egress").upsert(row, on_conflict="owner_id").execute
        )
        return egress_from_row(owner_id, rows[0] if rows else None)
