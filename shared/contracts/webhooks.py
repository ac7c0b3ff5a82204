"""Event webhooks: an owner's endpoints, the events sent to them, and how a delivery is signed.

Writers: the owner (`/api/webhooks`, signed in or with an API key) writes endpoints; the
database writes events and deliveries, in the same transaction as the call's change (triggers on
`call_sessions`, see the event webhooks migration); the backend's sender
(`backend.webhook_sender`) records each attempt. Readers: the sender, and the owner's delivery
log (`GET /api/webhooks/{id}/deliveries`). The receiver reads a delivery:

    POST <url>
    Voxie-Signature: t=1796637600,v1=5f0c…(64 hex digits)
    Content-Type: application/json

    {"id": "0b6f…", "type": "call.ended", "created_at": "2026-12-07T10:00:00Z",
     "data": {"id": "…", "agent_id": "…", "status": "ended", "end_reason": "…", …}}

`id` is the event's and stays the same on every retry (at-least-once: a receiver drops a
repeated id). `v1` is hex HMAC-SHA-256 under the endpoint's secret of `"<t>.<body>"`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl

SIGNATURE_HEADER = "Voxie-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 — a prefix, not a secret
MAX_ENDPOINTS_PER_OWNER = 20


class EventType(StrEnum):
    CALL_STARTED = "call.started"
    CALL_ENDED = "call.ended"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def new_signing_secret() -> str:
    """`whsec_` and 32 random bytes, url-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Voxie-Signature` header's value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


# pydantic's HttpUrl: http or https, at most 2083 characters (its schema says so).
WebhookUrl = HttpUrl
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=len(EventType), description="the event types to send"),
    AfterValidator(lambda v: list(dict.fromkeys(v))),
]


class WebhookCreate(BaseModel):
    """`POST /api/webhooks`."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(description="where events are POSTed: a public http(s) URL")
    events: EventTypes


class WebhookPatch(BaseModel):
    """`PATCH /api/webhooks/{id}`: what is given changes. Enabling clears `disabled_reason`."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    events: EventTypes | None = None
    enabled: bool | None = None


class WebhookInfo(BaseModel):
    """An endpoint as its owner sees it: never its secret."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    url: str
    events: list[EventType]
    enabled: bool
    created_at: datetime
    disabled_reason: str | None = Field(
        default=None, description="why the platform disabled it (24 h of failed deliveries)"
    )


class WebhookCreated(WebhookInfo):
    """`POST /api/webhooks` and `POST /api/webhooks/{id}/rotate-secret`: the only answers with
    the signing secret."""

    secret: str = Field(description="the signing secret; shown once, never again")


class WebhookList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[WebhookInfo]


class DeliveryInfo(BaseModel):
    """One event's delivery to one endpoint, as the delivery log shows it."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    event_id: UUID
    event_type: EventType
    status: DeliveryStatus
    attempts: int
    next_retry_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime


class DeliveryPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[DeliveryInfo]
    total: int
    limit: int
    offset: int


class StoredWebhook(BaseModel):
    """A row of `webhook_endpoints` as the store hands it out, with its sealed secret."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: UUID
    owner_id: UUID
    url: str
    events: list[EventType]
    enabled: bool
    secret_sealed: str
    created_at: datetime
    disabled_reason: str | None = None

    def info(self) -> WebhookInfo:
        return WebhookInfo(
            id=self.id,
            url=self.url,
            events=self.events,
            enabled=self.enabled,
            created_at=self.created_at,
            disabled_reason=self.disabled_reason,
        )


class DueDelivery(BaseModel):
    """What the sender needs for one attempt (the store's `take_webhook_deliveries`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    delivery_id: UUID
    attempts: int
    endpoint_id: UUID
    owner_id: UUID
    url: str
    secret_sealed: str
    event_id: UUID
    type: EventType
    created_at: datetime
    data: dict[str, Any]


class Attempt(BaseModel):
    """One attempt's outcome, as the sender records it (the store's `record_webhook_attempt`):
    delivered; retry at `next_retry_at`; or failed (never retried). `give_up_s`: an endpoint
    whose attempts have all failed for that long is disabled, with `reason`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Literal["delivered", "retry", "failed"]
    status_code: int | None = None
    error: str | None = None
    next_retry_at: datetime | None = None
    give_up_s: float
    reason: str = ""


def secret_name(endpoint_id: UUID) -> str:
    """The name an endpoint's secret is sealed under (shared.secret_box binds owner and name)."""
    return f"webhook:{endpoint_id}"
