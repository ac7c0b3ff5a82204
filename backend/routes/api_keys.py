"""The caller's API keys: `GET|POST /api/keys` and `DELETE /api/keys/{key_id}` (the contract:
`shared.contracts.api_keys`; hashing and lookup: `backend.api_keys`).

Only a signed-in user manages keys, never a key: a leaked key must not be able to mint itself
successors or revoke its owner's other keys. The operator mints none (its token already reaches
every route) but may list (`?owner_id=`) and revoke any owner's keys, e.g. one that leaked.
A key appears in the 201 answer to its creation and nowhere else: no log line, no later answer.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import Principal, forbidden, owner_to_read
from backend.http import UuidParam, authenticated, json_response, path, query, read_model, services
from backend.operations import Operation
from backend.problems import not_found
from shared.contracts.api_keys import (
    MAX_API_KEYS_PER_OWNER,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
)
from shared.logging import get_logger
from shared.store import NotFound

log = get_logger(__name__)

KEYS_NEED_SIGN_IN = (
    "an API key cannot list, create or revoke API keys: sign in (the dashboard's Developers "
    "page) to manage them"
)


class KeysQuery(BaseModel):
    owner_id: Annotated[
        UuidParam | None, Field(description="operator: one owner's keys (never the keys)")
    ] = None


class KeyPath(BaseModel):
    key_id: UuidParam


@authenticated(signed_in=KEYS_NEED_SIGN_IN)
async def list_api_keys(request: Request, principal: Principal) -> Response:
    owner = owner_to_read(principal, query(request, KeysQuery).owner_id, "API keys")
    stored = await services(request).store.list_api_keys(owner)
    return json_response(ApiKeyList(items=[k.info() for k in stored]))


@authenticated(signed_in=KEYS_NEED_SIGN_IN)
async def create_api_key(request: Request, principal: Principal) -> Response:
    if principal.is_operator:
        raise forbidden(
            "API keys belong to users; the operator's token already reaches every route"
        )
    svc = services(request)
    body = await read_model(request, ApiKeyCreate)
    created = await svc.api_keys.mint(principal.owner_id, body.name)
    log.info("api_key_created", owner_id=str(principal.owner_id), api_key_id=str(created.id))
    return json_response(created, 201, headers={"Location": f"/api/keys/{created.id}"})


@authenticated(signed_in=KEYS_NEED_SIGN_IN)
async def revoke_api_key(request: Request, principal: Principal) -> Response:
    key_id = path(request, KeyPath).key_id
    try:
        revoked = await services(request).store.delete_api_key(key_id, principal.owner_scope)
    except NotFound:
        raise not_found(f"you have no API key {key_id}") from None
    log.info(
        "api_key_revoked",
        owner_id=str(revoked.owner_id),
        api_key_id=str(key_id),
        by=principal.identity,
    )
    return Response(status_code=204)


operations = [
    Operation(
        "GET",
        "/api/keys",
        list_api_keys,
        "the caller's API keys: name, prefix, created, last used — never the key",
        response=ApiKeyList,
        query=KeysQuery,
    ),
    Operation(
        "POST",
        "/api/keys",
        create_api_key,
        "a new API key for the caller, shown once",
        ok=201,
        response=ApiKeyCreated,
        body=ApiKeyCreate,
        problems=(409,),
        description="The key (`vx_live_` and 43 base62 characters, 256 random bits) is in "
        "this answer only: the backend keeps an HMAC-SHA-256 of it. Send it as "
        "`Authorization: Bearer <key>` to act as its owner on every owner route. 409 when the "
        f"caller has {MAX_API_KEYS_PER_OWNER} keys; 403 for an API key or the operator; 503 "
        "when the backend has no API_KEY_HASH_KEYS.",
    ),
    Operation(
        "DELETE",
        "/api/keys/{key_id}",
        revoke_api_key,
        "revoke one of the caller's API keys: the next request with it is refused (401)",
        ok=204,
        path_params=KeyPath,
        problems=(404,),
    ),
]
