"""Event webhooks on both stores (`PostgresStore` and `SupabaseStore` inherit one mixin each):
see `shared.contracts.webhooks` for the shapes and the event webhooks migration for the tables.

Events are never written from here: the database writes them with the call's change (triggers
on `call_sessions`). The sender's two steps with a rule in them are SQL functions both stores
call (`take_webhook_deliveries`: the due batch, held so a dead sender's rows come back later;
`record_webhook_attempt`: one attempt's outcome, and disabling an endpoint failing for too long),
so the two stores cannot disagree.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from uuid import UUID

import asyncpg
from postgrest.types import CountMethod
from supabase import AsyncClient

from shared.contracts.webhooks import Attempt, DeliveryInfo, DueDelivery, EventType, StoredWebhook
from shared.store.base import Page, check_page
from shared.store.errors import NotFound

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = PoolConnectionProxy[asyncpg.Record]

T = TypeVar("T")

ENDPOINT_COLUMNS = "id,owner_id,url,events,enabled,secret_sealed,created_at,disabled_reason"
DELIVERY_COLUMNS = (
    "id,event_id,event_type,status,attempts,next_retry_at,last_status_code,last_error,created_at"
)
# What PATCH may change (the store's callers pass only these keys).
ENDPOINT_CHANGES = frozenset({"url", "events", "enabled", "secret_sealed"})


def webhook_from_row(row: Any) -> StoredWebhook:
    return StoredWebhook.model_validate(dict(row))


def delivery_from_row(row: Any) -> DeliveryInfo:
    return DeliveryInfo.model_validate(dict(row))


def _changes(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - ENDPOINT_CHANGES
    if unknown:
        raise ValueError(f"not an endpoint's changeable field: {sorted(unknown)}")
    out = dict(changes)
    if "events" in out:
        out["events"] = [EventType(e).value for e in out["events"]]
    if out.get("enabled") is True:
        out["disabled_reason"] = None  # re-enabled: the reason no longer holds
        out["failing_since"] = None
    return out


class PostgresWebhooks:
    @abstractmethod
    async def _run(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """PostgresStore's: one round trip under its deadline and breaker."""

    async def create_webhook(
        self,
        endpoint_id: UUID,
        owner_id: UUID,
        url: str,
        events: list[EventType],
        secret_sealed: str,
    ) -> StoredWebhook:
        row = await self._run(
            lambda c: c.fetchrow(
                "insert into public.webhook_endpoints"  # noqa: S608
                " (id, owner_id, url, events, secret_sealed)"
                f" values ($1, $2, $3, $4, $5) returning {ENDPOINT_COLUMNS}",
                endpoint_id,
                owner_id,
                url,
                [e.value for e in events],
                secret_sealed,
            )
        )
        return webhook_from_row(row)

    async def list_webhooks(self, owner_id: UUID) -> list[StoredWebhook]:
        rows = await self._run(
            lambda c: c.fetch(
                f"select {ENDPOINT_COLUMNS} from public.webhook_endpoints"  # noqa: S608
                " where owner_id = $1 order by created_at, id",
                owner_id,
            )
        )
        return [webhook_from_row(r) for r in rows]

    async def get_webhook(self, endpoint_id: UUID, owner_id: UUID | None) -> StoredWebhook:
        row = await self._run(
            lambda c: c.fetchrow(
                f"select {ENDPOINT_COLUMNS} from public.webhook_endpoints"  # noqa: S608
                " where id = $1 and ($2::uuid is null or owner_id = $2)",
                endpoint_id,
                owner_id,
            )
        )
        if row is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return webhook_from_row(row)

    async def update_webhook(
        self, endpoint_id: UUID, owner_id: UUID | None, changes: dict[str, Any]
    ) -> StoredWebhook:
        values = _changes(changes)
        # Column names come from ENDPOINT_CHANGES (checked above), never from input.
        sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(values, 3))
        row = await self._run(
            lambda c: c.fetchrow(
                f"update public.webhook_endpoints set {sets}{', ' if sets else ''}"  # noqa: S608
                " updated_at = now() where id = $1 and ($2::uuid is null or owner_id = $2)"
                f" returning {ENDPOINT_COLUMNS}",
                endpoint_id,
                owner_id,
                *values.values(),
            )
        )
        if row is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return webhook_from_row(row)

    async def delete_webhook(self, endpoint_id: UUID, owner_id: UUID | None) -> None:
        row = await self._run(
            lambda c: c.fetchrow(
                "delete from public.webhook_endpoints where id = $1"
                " and ($2::uuid is null or owner_id = $2) returning id",
                endpoint_id,
                owner_id,
            )
        )
        if row is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")

    async def list_webhook_deliveries(
        self, endpoint_id: UUID, *, limit: int = 50, offset: int = 0
    ) -> Page[DeliveryInfo]:
        check_page(limit, offset)

        async def op(c: Conn) -> tuple[list[asyncpg.Record], int]:
            async with c.transaction(readonly=True, isolation="repeatable_read"):
                rows = await c.fetch(
                    f"select {DELIVERY_COLUMNS} from public.webhook_deliveries"  # noqa: S608
                    " where endpoint_id = $1 order by created_at desc, id limit $2 offset $3",
                    endpoint_id,
                    limit,
                    offset,
                )
                total = await c.fetchval(
                    "select count(*) from public.webhook_deliveries where endpoint_id = $1",
                    endpoint_id,
                )
            return rows, int(total)

        rows, total = await self._run(op)
        return Page([delivery_from_row(r) for r in rows], total, limit, offset)

    async def resend_webhook_delivery(self, endpoint_id: UUID, delivery_id: UUID) -> DeliveryInfo:
        row = await self._run(
            lambda c: c.fetchrow(
                "update public.webhook_deliveries set status = 'pending',"  # noqa: S608
                " next_retry_at = now(), updated_at = now()"
                f" where id = $1 and endpoint_id = $2 returning {DELIVERY_COLUMNS}",
                delivery_id,
                endpoint_id,
            )
        )
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        return delivery_from_row(row)

    async def take_webhook_deliveries(self, limit: int, hold_s: float) -> list[DueDelivery]:
        taken = await self._run(
            lambda c: c.fetchval("select public.take_webhook_deliveries($1, $2)", limit, hold_s)
        )
        return [DueDelivery.model_validate(d) for d in _json(taken)]

    async def record_webhook_attempt(self, delivery_id: UUID, attempt: Attempt) -> None:
        await self._run(
            lambda c: c.fetchval(
                "select public.record_webhook_attempt($1, $2, $3, $4, $5, $6, $7)",
                delivery_id,
                attempt.outcome,
                attempt.status_code,
                attempt.error,
                attempt.next_retry_at,
                attempt.give_up_s,
                attempt.reason,
            )
        )


def _json(value: Any) -> list[dict[str, Any]]:
    decoded = json.loads(value) if isinstance(value, str) else value
    return list(decoded or [])


class SupabaseWebhooks:
    _client: AsyncClient

    @abstractmethod
    async def _run(self, request: Callable[[], Awaitable[T]]) -> T:
        """SupabaseStore's: one request under its deadline and breaker."""

    @abstractmethod
    async def _rows(self, request: Callable[[], Awaitable[Any]]) -> list[dict[str, Any]]:
        """SupabaseStore's: a request's rows."""

    @abstractmethod
    async def _page(
        self, query: Callable[[str], Any], newest_first_by: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """SupabaseStore's: one page, newest first, with the exact total."""

    def _endpoints(self) -> Any:
        return self._client.table("webhook_endpoints")

    async def create_webhook(
        self,
        endpoint_id: UUID,
        owner_id: UUID,
        url: str,
        events: list[EventType],
        secret_sealed: str,
    ) -> StoredWebhook:
        row = {
            "id": str(endpoint_id),
            "owner_id": str(owner_id),
            "url": url,
            "events": [e.value for e in events],
            "secret_sealed": secret_sealed,
        }
        rows = await self._rows(self._endpoints().insert(row).execute)
        return webhook_from_row(rows[0])

    async def list_webhooks(self, owner_id: UUID) -> list[StoredWebhook]:
        rows = await self._rows(
            self._endpoints()
            .select(ENDPOINT_COLUMNS)
            .eq("owner_id", str(owner_id))
            .order("created_at")
            .order("id")
            .execute
        )
        return [webhook_from_row(r) for r in rows]

    async def get_webhook(self, endpoint_id: UUID, owner_id: UUID | None) -> StoredWebhook:
        query = self._endpoints().select(ENDPOINT_COLUMNS).eq("id", str(endpoint_id))
        if owner_id is not None:
            query = query.eq("owner_id", str(owner_id))
        rows = await self._rows(query.execute)
        if not rows:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return webhook_from_row(rows[0])

    async def update_webhook(
        self, endpoint_id: UUID, owner_id: UUID | None, changes: dict[str, Any]
    ) -> StoredWebhook:
        values = {**_changes(changes), "updated_at": datetime.now(UTC).isoformat()}
        query = self._endpoints().update(values).eq("id", str(endpoint_id))
        if owner_id is not None:
            query = query.eq("owner_id", str(owner_id))
        rows = await self._rows(query.execute)
        if not rows:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return webhook_from_row(rows[0])

    async def delete_webhook(self, endpoint_id: UUID, owner_id: UUID | None) -> None:
        query = self._endpoints().delete().eq("id", str(endpoint_id))
        if owner_id is not None:
            query = query.eq("owner_id", str(owner_id))
        if not await self._rows(query.execute):
            raise NotFound(f"no webhook endpoint {endpoint_id}")

    async def list_webhook_deliveries(
        self, endpoint_id: UUID, *, limit: int = 50, offset: int = 0
    ) -> Page[DeliveryInfo]:
        check_page(limit, offset)

        def query(columns: str) -> Any:
            return (
                self._client.table("webhook_deliveries")
                .select(DELIVERY_COLUMNS if columns == "*" else columns, count=CountMethod.exact)
                .eq("endpoint_id", str(endpoint_id))
            )

        rows, total = await self._page(query, "created_at", limit, offset)
        return Page([delivery_from_row(r) for r in rows], total, limit, offset)

    async def resend_webhook_delivery(self, endpoint_id: UUID, delivery_id: UUID) -> DeliveryInfo:
        rows = await self._rows(
            self._client.table("webhook_deliveries")
            .update(
                {
                    "status": "pending",
                    "next_retry_at": datetime.now(UTC).isoformat(),
                    "updated_at": datetime.now(UTC).isoformat(),
                }
            )
            .eq("id", str(delivery_id))
            .eq("endpoint_id", str(endpoint_id))
            .execute
        )
        if not rows:
            raise NotFound(f"no delivery {delivery_id}")
        return delivery_from_row({k: rows[0][k] for k in DELIVERY_COLUMNS.split(",")})

    async def take_webhook_deliveries(self, limit: int, hold_s: float) -> list[DueDelivery]:
        params = {"p_limit": limit, "p_hold_s": hold_s}
        response = await self._run(self._client.rpc("take_webhook_deliveries", params).execute)
        return [DueDelivery.model_validate(d) for d in _json(response.data)]

    async def record_webhook_attempt(self, delivery_id: UUID, attempt: Attempt) -> None:
        params = {
            "p_delivery": str(delivery_id),
            **{f"p_{name}": value for name, value in attempt.model_dump(mode="json").items()},
        }
        await self._run(self._client.rpc("record_webhook_attempt", params).execute)
