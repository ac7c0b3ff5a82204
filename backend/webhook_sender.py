"""The event webhook sender: what the outbox (`webhook_deliveries`, written by the database with
the call's change) holds, POSTed to owners' endpoints, at least once.

Every WEBHOOK_INTERVAL_S, in exactly one backend replica — the holder of the `backend-webhooks`
lease, the reconciler's way — the sender takes the due deliveries (the store holds each taken
row for a while, so a sender that dies mid-send leaves it due again later, never lost) and sends
each:

- the body `{"id", "type", "created_at", "data"}` (`data`: the session record, rendered through
  its contract from the row the event captured), the same bytes on every attempt, signed
  `Voxie-Signature: t=<unix>,v1=<hex HMAC-SHA-256(secret, "<t>.<body>")>` at each attempt;
- to the address the owner's outbound guard checked at this attempt (the HTTP tools' guard:
  `shared.addresses`), redirects not followed, the whole attempt under WEBHOOK_TIMEOUT_S, at most
  4 KiB of the answer read;
- 2xx → delivered; a timeout, a connection failure, 5xx or 429 → retried after an exponential
  backoff with jitter (or the answer's Retry-After), for 24 h from the event; anything else
  (another 4xx, a redirect, an internal address) → failed, never retried. An endpoint whose
  attempts have all failed for 24 h is disabled, and its owner sees why (`disabled_reason`).

At-least-once: an answer lost after the receiver acted is sent again, with the same event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import random
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from backend.metrics import Metrics
from shared.addresses import AddressGuard, AddressRefused, InternalAddress, Resolver, pinned
from shared.addresses import system_resolver as default_resolver
from shared.contracts.webhooks import SIGNATURE_HEADER, Attempt, DueDelivery, secret_name, signature
from shared.logging import get_logger
from shared.secret_box import SecretBox, SecretsNotConfigured, SecretUnreadable
from shared.settings import Settings
from shared.store import AgentStore, StoreError
from shared.store.base import session_from_row
from shared.tool_access import ToolAccess

log = get_logger(__name__)

LEASE_NAME = "backend-webhooks"
RETRY_WINDOW_S = 24 * 3600.0
MAX_BACKOFF_S = 3600.0
MAX_ANSWER_BYTES = 4096
BATCH = 32
GIVE_UP_REASON = "every delivery failed for 24 hours (last: {error}); enable it again once fixed"


def backoff_s(base_s: float, attempts: int) -> float:
    """The delay before the retry after `attempts` failed attempts: doubling from `base_s`, at
    most MAX_BACKOFF_S, with half of it random so receivers that failed together spread out."""
    delay = min(base_s * 2.0 ** min(max(attempts - 1, 0), 32), MAX_BACKOFF_S)
    return delay / 2 + random.uniform(0, delay / 2)


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """A Retry-After header's delay: seconds, or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(float((when - now).total_seconds()), 0.0)


def body_of(due: DueDelivery) -> bytes:
    """The delivery's body: the same bytes at every attempt for the same event."""
    try:
        data = session_from_row(due.data).model_dump(mode="json")
    except (ValueError, TypeError):
        data = due.data  # a row the contract no longer reads: sent as captured
    event = {
        "id": str(due.event_id),
        "type": due.type.value,
        "created_at": due.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


class Failed(Exception):
    """An attempt that failed; `retry` when a later one may succeed."""

    def __init__(self, error: str, *, retry: bool, status: int | None = None) -> None:
        super().__init__(error)
        self.retry = retry
        self.status = status
        self.retry_after: float | None = None


class WebhookSender:
    def __init__(
        self,
        settings: Settings,
        store: AgentStore,
        client: httpx.AsyncClient,
        metrics: Metrics,
        *,
        resolve: Resolver = default_resolver,
        holder: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.metrics = metrics
        self.resolve = resolve
        self.box = SecretBox(settings.secrets_keys)
        self.access = ToolAccess(store, settings)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ttl_s = max(3 * settings.webhook_interval_s, 15.0)
        # A taken row is due again after this: longer than any attempt of its batch can take.
        self.hold_s = 2 * settings.webhook_timeout_s + self.lease_ttl_s
        self._leader = False

    async def run_forever(self) -> None:
        while True:
            try:
                await self.try_send()
            except StoreError as exc:
                log.warning("webhook_sender_failed", error=str(exc), kind=type(exc).__name__)
            except Exception:
                log.exception("webhook_sender_crashed")
            await asyncio.sleep(self.settings.webhook_interval_s)

    async def try_send(self) -> int | None:
        """Sends what is due if this replica holds (or takes) the lease: how many attempts were
        made; None if another replica sends."""
        leader = await self.store.acquire_lease(LEASE_NAME, self.holder, self.lease_ttl_s)
        if leader != self._leader:
            log.info("webhook_sender_lease", held=leader, holder=self.holder)
            self._leader = leader
        self.metrics.event_sender_leader.set(1 if leader else 0)
        if not leader:
            return None
        sent = 0
        while True:
            due = await self.store.take_webhook_deliveries(BATCH, self.hold_s)
            await asyncio.gather(*(self.deliver(d) for d in due))
            sent += len(due)
            if len(due) < BATCH:
                return sent

    async def release(self) -> None:
        with contextlib.suppress(StoreError):
            await self.store.release_lease(LEASE_NAME, self.holder)
        self._leader = False
        self.metrics.event_sender_leader.set(0)

    async def deliver(self, due: DueDelivery) -> None:
        """One attempt, recorded."""
        now = datetime.now(UTC)
        try:
            status = await self.attempt(due)
        except Failed as failed:
            error, status_code = str(failed), failed.status
            next_at = now + timedelta(
                seconds=failed.retry_after
                if failed.retry_after is not None
                else backoff_s(self.settings.webhook_retry_base_s, due.attempts + 1)
            )
            within = next_at <= due.created_at + timedelta(seconds=RETRY_WINDOW_S)
            outcome = Attempt(
                outcome="retry" if failed.retry and within else "failed",
                status_code=status_code,
                error=error if within or not failed.retry else f"{error}; gave up after 24 h",
                next_retry_at=next_at if failed.retry and within else None,
                give_up_s=RETRY_WINDOW_S,
                reason=GIVE_UP_REASON.format(error=error),
            )
        else:
            outcome = Attempt(outcome="delivered", status_code=status, give_up_s=RETRY_WINDOW_S)
        await self.store.record_webhook_attempt(due.delivery_id, outcome)
        self.metrics.event_deliveries.labels(outcome.outcome).inc()
        log.info(
            "webhook_delivery",
            webhook_id=str(due.endpoint_id),
            event_id=str(due.event_id),
            event_type=due.type.value,
            outcome=outcome.outcome,
            status=outcome.status_code,
            attempt=due.attempts + 1,
            error=outcome.error,
        )

    async def attempt(self, due: DueDelivery) -> int:
        """POSTs the event; its status when 2xx, else raises Failed."""
        body = body_of(due)
        try:
            secret = self.box.open(due.owner_id, secret_name(due.endpoint_id), due.secret_sealed)
        except (SecretsNotConfigured, SecretUnreadable) as exc:
            # The operator's configuration, not the receiver: retried until it is fixed.
            raise Failed(f"the signing secret cannot be opened: {exc}", retry=True) from None
        url = httpx.URL(due.url)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_s):
                guard = AddressGuard(
                    await self.access.allowlist(due.owner_id), resolve=self.resolve
                )
                address = await guard.resolve(url.host, port)
                at, host, sni = pinned(url, address)
                headers = {
                    **host,
                    "Content-Type": "application/json",
                    "User-Agent": "Voxie-Webhooks/1",
                    SIGNATURE_HEADER: signature(secret.get_secret_value(), int(time.time()), body),
                }
                request = self.client.build_request(
                    "POST",
                    at,
                    headers=headers,
                    content=body,
                    extensions=sni,
                    timeout=self.settings.webhook_timeout_s,
                )
                response = await self.client.send(request, stream=True, follow_redirects=False)
                try:
                    answer = await _read_capped(response)
                finally:
                    await response.aclose()
        except InternalAddress as exc:
            raise Failed(
                f"refused: {exc}".replace("tools may", "webhooks may"), retry=False
            ) from None
        except AddressRefused as exc:  # does not resolve (now): DNS may recover
            raise Failed(str(exc), retry=True) from None
        except TimeoutError:
            timeout = self.settings.webhook_timeout_s
            raise Failed(f"no answer within {timeout:g} s", retry=True) from None
        except (httpx.HTTPError, OSError) as exc:
            raise Failed(f"{type(exc).__name__}: {exc}"[:300], retry=True) from None
        status = response.status_code
        if 200 <= status < 300:
            return status
        if 300 <= status < 400:
            raise Failed(f"HTTP {status}: redirects are not followed", retry=False, status=status)
        retry = status == 429 or status >= 500
        detail = f"HTTP {status}: {answer[:200]}" if answer else f"HTTP {status}"
        failed = Failed(detail, retry=retry, status=status)
        if retry:
            now = datetime.now(UTC)
            failed.retry_after = retry_after_s(response.headers.get("retry-after"), now)
        raise failed


async def _read_capped(response: httpx.Response) -> str:
    """At most MAX_ANSWER_BYTES of the answer: a receiver cannot make the sender read more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk[: MAX_ANSWER_BYTES - size])
        size += len(chunks[-1])
        if size >= MAX_ANSWER_BYTES:
            break
    return b"".join(chunks).decode("utf-8", errors="replace")
