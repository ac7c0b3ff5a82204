"""Event webhooks on both stores (issue 24): endpoints per owner; `call.started` and
`call.ended` written by the database with the session change that causes them and fanned out to
the owner's enabled, subscribed endpoints; the sender's batch held while it sends; attempts
recorded; an endpoint failing for too long disabled with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest

from shared.contracts import EndReason, NewCallSession, SessionKind
from shared.contracts.webhooks import Attempt, DeliveryStatus, EventType
from shared.store import AgentStore, NotFound
from tests.shared.store.test_contract import OTHER, OWNER

STARTED, ENDED = EventType.CALL_STARTED, EventType.CALL_ENDED
DAY_S = 24 * 3600.0


async def endpoint(
    store: AgentStore, owner: UUID = OWNER, events: list[EventType] | None = None
) -> UUID:
    created = await store.create_webhook(
        uuid4(), owner, "https://crm.example/hooks", events or [STARTED, ENDED], "v1.sealed"
    )
    return created.id


async def call(
    store: AgentStore,
    owner: UUID = OWNER,
    job_id: str | None = None,
    kind: SessionKind = SessionKind.TEST,
) -> UUID:
    session = await store.start_session(
        NewCallSession(
            agent_id=None,
            owner_id=owner,
            room_name="agent-x-abcdefgh",
            kind=kind,
            deployment="dev",
            job_id=job_id,
        )
    )
    return session.id


async def deliveries(db: asyncpg.Connection) -> list[tuple[UUID, str]]:
    rows = await db.fetch(
        "select d.endpoint_id, e.type from public.webhook_deliveries d"
        " join public.webhook_events e on e.id = d.event_id order by e.created_at, e.type"
    )
    return [(r["endpoint_id"], r["type"]) for r in rows]


async def test_endpoints_are_per_owner_and_change_as_patched(store: AgentStore) -> None:
    mine = await endpoint(store)
    await endpoint(store, OTHER)
    assert [w.id for w in await store.list_webhooks(OWNER)] == [mine]
    with pytest.raises(NotFound):
        await store.get_webhook(mine, OTHER)
    assert (await store.get_webhook(mine, None)).owner_id == OWNER  # the operator

    changed = await store.update_webhook(
        mine, OWNER, {"url": "https://crm.example/v2", "events": [ENDED], "enabled": False}
    )
    assert (changed.url, changed.events, changed.enabled) == (
        "https://crm.example/v2",
        [ENDED],
        False,
    )
    with pytest.raises(NotFound):
        await store.update_webhook(mine, OTHER, {"enabled": True})
    with pytest.raises(NotFound):
        await store.delete_webhook(mine, OTHER)
    await store.delete_webhook(mine, OWNER)
    assert await store.list_webhooks(OWNER) == []


async def test_a_calls_start_and_end_are_fanned_out_to_subscribed_enabled_endpoints(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    both = await endpoint(store)
    ends_only = await endpoint(store, events=[ENDED])
    off = await endpoint(store)
    await store.update_webhook(off, OWNER, {"enabled": False})
    await endpoint(store, OTHER)

    session = await call(store)
    assert await deliveries(db) == [(both, "call.started")]
    await store.finish_session(session, end_reason=EndReason.GRACE_EXPIRED)
    await store.finish_session(session, end_reason=EndReason.ROOM_CLOSED)  # no second end
    assert sorted(await deliveries(db)) == sorted(
        [(both, "call.started"), (both, "call.ended"), (ends_only, "call.ended")]
    )
    data = await db.fetchval("select data from public.webhook_events where type = 'call.ended'")
    assert '"grace_expired"' in data and str(session) in data


async def test_no_endpoint_no_event_and_a_claimed_row_is_not_a_second_start(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    await call(store, OTHER)
    assert await db.fetchval("select count(*) from public.webhook_events") == 0
    await endpoint(store)
    voxie = await call(store, kind=SessionKind.CREATION)  # a conversation with Voxie: no call
    await store.finish_session(voxie, end_reason=EndReason.GRACE_EXPIRED)
    assert await db.fetchval("select count(*) from public.webhook_events") == 0
    session = await call(store)
    await store.start_session(  # the worker's job claims the row the backend opened
        NewCallSession(
            id=session,
            agent_id=None,
            owner_id=OWNER,
            room_name="agent-x-abcdefgh",
            kind=SessionKind.TEST,
            deployment="dev",
            job_id="AJ_1",
        )
    )
    assert await db.fetchval("select count(*) from public.webhook_events") == 1


async def test_a_taken_delivery_is_held_then_recorded(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    hook = await endpoint(store, events=[STARTED])
    session = await call(store)
    [due] = await store.take_webhook_deliveries(10, 60.0)
    assert (due.endpoint_id, due.type, due.owner_id, due.attempts) == (hook, STARTED, OWNER, 0)
    assert due.data["id"] == str(session) and due.secret_sealed == "v1.sealed"
    assert await store.take_webhook_deliveries(10, 60.0) == []  # held while it is sent

    now = datetime.now(UTC)
    await store.record_webhook_attempt(
        due.delivery_id,
        Attempt(
            outcome="retry",
            status_code=500,
            error="HTTP 500",
            next_retry_at=now - timedelta(seconds=1),
            give_up_s=DAY_S,
            reason="",
        ),
    )
    [again] = await store.take_webhook_deliveries(10, 60.0)
    assert (again.delivery_id, again.event_id, again.attempts) == (due.delivery_id, due.event_id, 1)
    await store.record_webhook_attempt(
        due.delivery_id,
        Attempt(
            outcome="delivered",
            status_code=200,
            error=None,
            next_retry_at=None,
            give_up_s=DAY_S,
            reason="",
        ),
    )
    page = await store.list_webhook_deliveries(hook)
    [shown] = page.items
    assert (shown.status, shown.attempts, shown.last_status_code) == (
        DeliveryStatus.DELIVERED,
        2,
        200,
    )
    assert shown.event_type is STARTED and shown.next_retry_at is None
    assert await store.take_webhook_deliveries(10, 60.0) == []


async def test_deliveries_are_listed_newest_first_in_pages(store: AgentStore) -> None:
    hook = await endpoint(store, events=[STARTED])
    for _ in range(3):
        await call(store)
    first = await store.list_webhook_deliveries(hook, limit=2)
    second = await store.list_webhook_deliveries(hook, limit=2, offset=2)
    assert (first.total, len(first.items), len(second.items)) == (3, 2, 1)
    listed = [*first.items, *second.items]
    assert [d.created_at for d in listed] == sorted((d.created_at for d in listed), reverse=True)


async def test_an_endpoint_failing_past_the_give_up_time_is_disabled_with_its_reason(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    hook = await endpoint(store, events=[STARTED])
    await call(store)
    await call(store)
    first, second = await store.take_webhook_deliveries(10, 60.0)
    await db.execute(
        "update public.webhook_endpoints set failing_since = now() - interval '25 hours'"
    )
    await store.record_webhook_attempt(
        first.delivery_id,
        Attempt(
            outcome="retry",
            status_code=503,
            error="HTTP 503",
            next_retry_at=datetime.now(UTC),
            give_up_s=DAY_S,
            reason="every delivery failed for 24 h (last: HTTP 503)",
        ),
    )
    disabled = await store.get_webhook(hook, OWNER)
    assert not disabled.enabled
    assert disabled.disabled_reason == "every delivery failed for 24 h (last: HTTP 503)"
    statuses = {d.id: d.status for d in (await store.list_webhook_deliveries(hook)).items}
    assert statuses == {
        first.delivery_id: DeliveryStatus.FAILED,
        second.delivery_id: DeliveryStatus.FAILED,
    }

    enabled = await store.update_webhook(hook, OWNER, {"enabled": True})
    assert enabled.enabled and enabled.disabled_reason is None
    assert await db.fetchval("select failing_since from public.webhook_endpoints") is None


async def test_a_delivery_is_resent_as_the_same_event(store: AgentStore) -> None:
    hook = await endpoint(store, events=[STARTED])
    other = await endpoint(store, OTHER, events=[STARTED])
    await call(store)
    [due] = await store.take_webhook_deliveries(10, 60.0)
    await store.record_webhook_attempt(
        due.delivery_id, Attempt(outcome="failed", status_code=400, give_up_s=DAY_S)
    )
    assert await store.take_webhook_deliveries(10, 60.0) == []
    with pytest.raises(NotFound):
        await store.resend_webhook_delivery(other, due.delivery_id)

    resent = await store.resend_webhook_delivery(hook, due.delivery_id)
    assert (resent.status, resent.attempts, resent.event_id) == (
        DeliveryStatus.PENDING,
        1,
        due.event_id,
    )
    [again] = await store.take_webhook_deliveries(10, 60.0)
    assert (again.delivery_id, again.event_id) == (due.delivery_id, due.event_id)
