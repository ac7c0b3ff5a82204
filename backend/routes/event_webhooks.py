"""The owner's event webhooks: `GET|POST /api/webhooks`, `GET|PATCH|DELETE /api/webhooks/{id}`,
`POST /api/webhooks/{id}/rotate-secret` and `GET /api/webhooks/{id}/deliveries` (the contract:
`shared.contracts.webhooks`; sending: `backend.webhook_sender`). Not LiveKit's webhook into the
platform (`backend.routes.webhook`): these are the platform's events out to an owner's servers.

Owner routes like agents: a user (signed in or with an API key) manages their own endpoints,
the operator any owner's. A destination obeys the HTTP tools' outbound guard for its owner
(`shared.addresses`: internal addresses refused unless exempt for that owner — for the operator
also TOOL_HTTP_ALLOWLIST), checked here at save and again by the sender at every attempt.
The signing secret is sealed with SECRETS_KEYS before the store sees it and appears only in the
answers to creating the endpoint and rotating its secret.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import Principal, owner_to_read
from backend.http import (
    PageQuery,
    UuidParam,
    authenticated,
    json_response,
    path,
    query,
    read_model,
    services,
)
from backend.operations import Operation
from backend.problems import Problem, not_found, unavailable, unprocessable
from backend.services import Services
from shared.addresses import AddressRefused, check_public_url
from shared.contracts.webhooks import (
    MAX_ENDPOINTS_PER_OWNER,
    DeliveryInfo,
    DeliveryPage,
    StoredWebhook,
    WebhookCreate,
    WebhookCreated,
    WebhookInfo,
    WebhookList,
    WebhookPatch,
    new_signing_secret,
    secret_name,
)
from shared.logging import get_logger
from shared.secret_box import SecretsNotConfigured
from shared.store import NotFound

log = get_logger(__name__)


class WebhooksQuery(BaseModel):
    owner_id: Annotated[UuidParam | None, Field(description="operator: one owner's endpoints")] = (
        None
    )


class WebhookPath(BaseModel):
    webhook_id: UuidParam


class DeliveryPath(WebhookPath):
    delivery_id: UuidParam


async def check_destination(svc: Services, owner_id: UUID, url: str) -> None:
    """The save-time guard, as for the owner's HTTP tools: 422 for an internal destination."""
    try:
        allow = await svc.tools.allowlist(owner_id)
        await check_public_url(url, allowlist=allow, resolve=svc.resolve)
    except AddressRefused as exc:
        raise unprocessable(f"url: {str(exc).replace('tools may', 'webhooks may')}") from None


def seal(svc: Services, owner_id: UUID, endpoint_id: UUID, secret: str) -> str:
    try:
        return svc.tools.box.seal(owner_id, secret_name(endpoint_id), secret)
    except SecretsNotConfigured:
        raise unavailable(
            "secrets-not-configured",
            "webhook signing secrets are sealed with SECRETS_KEYS, which this backend lacks "
            "(`voxiectl secrets new-key` makes a key)",
            retry_after_s=300,
        ) from None


def created(stored: StoredWebhook, secret: str) -> WebhookCreated:
    return WebhookCreated(**stored.info().model_dump(), secret=secret)


async def endpoint_of(request: Request, principal: Principal) -> StoredWebhook:
    webhook_id = path(
        request, DeliveryPath if "delivery_id" in request.path_params else WebhookPath
    ).webhook_id
    try:
        return await services(request).store.get_webhook(webhook_id, principal.owner_scope)
    except NotFound:
        raise not_found(f"you have no webhook endpoint {webhook_id}") from None


@authenticated()
async def list_webhooks(request: Request, principal: Principal) -> Response:
    owner = owner_to_read(principal, query(request, WebhooksQuery).owner_id, "webhook endpoints")
    stored = await services(request).store.list_webhooks(owner)
    return json_response(WebhookList(items=[w.info() for w in stored]))


@authenticated()
async def create_webhook(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_model(request, WebhookCreate)
    owner = principal.owner_id
    if len(await svc.store.list_webhooks(owner)) >= MAX_ENDPOINTS_PER_OWNER:
        raise Problem(
            409,
            "conflict",
            f"an owner has at most {MAX_ENDPOINTS_PER_OWNER} webhook endpoints: delete one",
        )
    await check_destination(svc, owner, str(body.url))
    endpoint_id = uuid4()
    secret = new_signing_secret()
    stored = await svc.store.create_webhook(
        endpoint_id, owner, str(body.url), body.events, seal(svc, owner, endpoint_id, secret)
    )
    log.info("webhook_created", owner_id=str(owner), webhook_id=str(endpoint_id))
    return json_response(
        created(stored, secret), 201, headers={"Location": f"/api/webhooks/{endpoint_id}"}
    )


@authenticated()
async def get_webhook(request: Request, principal: Principal) -> Response:
    return json_response((await endpoint_of(request, principal)).info())


@authenticated()
async def update_webhook(request: Request, principal: Principal) -> Response:
    svc = services(request)
    current = await endpoint_of(request, principal)
    patch = await read_model(request, WebhookPatch)
    changes = patch.model_dump(exclude_none=True)
    if patch.url is not None:
        changes["url"] = str(patch.url)
        await check_destination(svc, current.owner_id, changes["url"])
    stored = await svc.store.update_webhook(current.id, current.owner_id, changes)
    log.info("webhook_updated", webhook_id=str(current.id), fields=sorted(changes))
    return json_response(stored.info())


@authenticated()
async def delete_webhook(request: Request, principal: Principal) -> Response:
    current = await endpoint_of(request, principal)
    await services(request).store.delete_webhook(current.id, current.owner_id)
    log.info("webhook_deleted", webhook_id=str(current.id), by=principal.identity)
    return Response(status_code=204)


@authenticated()
async def rotate_webhook_secret(request: Request, principal: Principal) -> Response:
    svc = services(request)
    current = await endpoint_of(request, principal)
    secret = new_signing_secret()
    sealed = seal(svc, current.owner_id, current.id, secret)
    stored = await svc.store.update_webhook(current.id, current.owner_id, {"secret_sealed": sealed})
    log.info("webhook_secret_rotated", webhook_id=str(current.id))
    return json_response(created(stored, secret))


@authenticated()
async def list_webhook_deliveries(request: Request, principal: Principal) -> Response:
    current = await endpoint_of(request, principal)
    page = query(request, PageQuery)
    found = await services(request).store.list_webhook_deliveries(
        current.id, limit=page.limit, offset=page.offset
    )
    return json_response(
        DeliveryPage(items=found.items, total=found.total, limit=found.limit, offset=found.offset)
    )


@authenticated()
async def resend_webhook_delivery(request: Request, principal: Principal) -> Response:
    current = await endpoint_of(request, principal)
    delivery_id = path(request, DeliveryPath).delivery_id
    try:
        resent = await services(request).store.resend_webhook_delivery(current.id, delivery_id)
    except NotFound:
        raise not_found(f"webhook endpoint {current.id} has no delivery {delivery_id}") from None
    log.info("webhook_resend", webhook_id=str(current.id), delivery_id=str(delivery_id))
    return json_response(resent, 202)


GUARD = (
    "The URL must be a public internet address, or exempt for the owner as an HTTP tool's "
    "would be (the owner's egress exemptions; for the operator also TOOL_HTTP_ALLOWLIST): 422 "
    "otherwise. The sender checks it again at every attempt."
)

operations = [
    Operation(
        "GET",
        "/api/webhooks",
        list_webhooks,
        "the caller's webhook endpoints — never their secrets",
        response=WebhookList,
        query=WebhooksQuery,
    ),
    Operation(
        "POST",
        "/api/webhooks",
        create_webhook,
        "a new webhook endpoint for the caller, with its signing secret shown once",
        ok=201,
        response=WebhookCreated,
        body=WebhookCreate,
        problems=(409,),
        description="Each event is POSTed as `{id, type, created_at, data}` with the header "
        '`Voxie-Signature: t=<unix>,v1=<hex HMAC-SHA-256(secret, "<t>.<body>")>`; retried '
        "with backoff for 24 h on timeouts, 5xx and 429, never on other 4xx. "
        + GUARD
        + f" 409 at {MAX_ENDPOINTS_PER_OWNER} endpoints; 503 without SECRETS_KEYS.",
    ),
    Operation(
        "GET",
        "/api/webhooks/{webhook_id}",
        get_webhook,
        "one of the caller's webhook endpoints",
        response=WebhookInfo,
        path_params=WebhookPath,
        problems=(404,),
    ),
    Operation(
        "PATCH",
        "/api/webhooks/{webhook_id}",
        update_webhook,
        "change an endpoint's url, events or enabled; enabling it clears why it was disabled",
        response=WebhookInfo,
        body=WebhookPatch,
        path_params=WebhookPath,
        problems=(404,),
        description=GUARD,
    ),
    Operation(
        "DELETE",
        "/api/webhooks/{webhook_id}",
        delete_webhook,
        "delete an endpoint and its delivery log: nothing more is sent to it",
        ok=204,
        path_params=WebhookPath,
        problems=(404,),
    ),
    Operation(
        "POST",
        "/api/webhooks/{webhook_id}/rotate-secret",
        rotate_webhook_secret,
        "a new signing secret for the endpoint, shown once; the old one stops at once",
        response=WebhookCreated,
        path_params=WebhookPath,
        problems=(404, 503),
    ),
    Operation(
        "GET",
        "/api/webhooks/{webhook_id}/deliveries",
        list_webhook_deliveries,
        "the endpoint's deliveries, newest first: event, status, attempts, next retry, last "
        "status code and error",
        response=DeliveryPage,
        query=PageQuery,
        path_params=WebhookPath,
        problems=(404,),
    ),
    Operation(
        "POST",
        "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
        resend_webhook_delivery,
        "send one delivery's event again, with the same event id, as soon as the sender runs "
        "(while the endpoint is enabled)",
        ok=202,
        response=DeliveryInfo,
        path_params=DeliveryPath,
        problems=(404,),
    ),
]
