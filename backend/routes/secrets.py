"""Owner secrets, `GET|POST /api/secrets` and `DELETE /api/secrets/{name}`, and the operator's
per-owner egress, `GET|PUT /api/owners/{owner_id}/egress` (the contract and the binding rule:
`shared.contracts.secrets`).

A secret is the caller's own: a user manages theirs, the operator the operator's (beside the
`TOOL_SECRETS` of its environment, listed as `source: environment`). The value goes in once
and never comes out: it is sealed here (`shared.secret_box`) before the store sees it, and no
answer, log line or error carries it. The operator may read a user's list (names and hosts,
`?owner_id=`) to help them, never the values.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import Principal, owner_to_read
from backend.http import UuidParam, authenticated, json_response, path, query, read_model, services
from backend.operations import Operation
from backend.problems import Problem, not_found, unavailable
from shared.contracts.agent_config import SecretName
from shared.contracts.secrets import (
    EgressPolicy,
    EgressUpdate,
    SecretCreate,
    SecretInfo,
)
from shared.logging import get_logger
from shared.secret_box import SecretsNotConfigured
from shared.store import NotFound

log = get_logger(__name__)


class SecretList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[SecretInfo]


class SecretPath(BaseModel):
    name: SecretName


class SecretsQuery(BaseModel):
    owner_id: Annotated[
        UuidParam | None, Field(description="operator: one owner's secrets (names and hosts)")
    ] = None


class OwnerRef(BaseModel):
    owner_id: UuidParam


def _not_configured() -> Problem:
    return unavailable(
        "secrets-not-configured",
        "secrets are not configured on this backend: the operator sets SECRETS_KEYS "
        "(`voxiectl secrets new-key` makes a key)",
        retry_after_s=300,
    )


@authenticated()
async def list_secrets(request: Request, principal: Principal) -> Response:
    svc = services(request)
    owner = owner_to_read(principal, query(request, SecretsQuery).owner_id, "secrets")
    stored = [s.info() for s in await svc.store.list_secrets(owner)]
    environment = svc.tools.environment_infos(owner)
    shadowed = {info.name for info in environment}
    items = sorted(
        [*environment, *(s for s in stored if s.name not in shadowed)], key=lambda s: s.name
    )
    return json_response(SecretList(items=items))


@authenticated()
async def create_secret(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_model(request, SecretCreate)
    owner = principal.owner_id
    if body.name in svc.settings.tool_secrets and principal.is_operator:
        raise Problem(
            409,
            "conflict",
            f"{body.name} is one of the operator's TOOL_SECRETS: choose another name",
        )
    try:
        sealed = svc.tools.box.seal(owner, body.name, body.value.get_secret_value())
    except SecretsNotConfigured:
        raise _not_configured() from None
    created = await svc.store.create_secret(owner, body.name, body.hosts, sealed)
    log.info("secret_created", owner_id=str(owner), secret_name=body.name, hosts=body.hosts)
    return json_response(created.info(), 201, headers={"Location": f"/api/secrets/{created.name}"})


@authenticated()
async def delete_secret(request: Request, principal: Principal) -> Response:
    svc = services(request)
    name = path(request, SecretPath).name
    if principal.is_operator and name in svc.settings.tool_secrets:
        raise Problem(
            409,
            "conflict",
            f"{name} comes from the server's TOOL_SECRETS: remove it there",
        )
    try:
        await svc.store.delete_secret(principal.owner_id, name)
    except NotFound:
        raise not_found(f"you have no secret named {name}") from None
    log.info("secret_deleted", owner_id=str(principal.owner_id), secret_name=name)
    return Response(status_code=204)


@authenticated(operator=True)
async def get_egress(request: Request, principal: Principal) -> Response:
    owner = path(request, OwnerRef).owner_id
    return json_response(await services(request).store.get_egress(owner))


@authenticated(operator=True)
async def put_egress(request: Request, principal: Principal) -> Response:
    owner = path(request, OwnerRef).owner_id
    body = await read_model(request, EgressUpdate)
    allow = list(dict.fromkeys(body.allow))
    policy = await services(request).store.set_egress(owner, allow, updated_by=principal.identity)
    log.info("egress_set", owner_id=str(owner), allow=allow)
    return json_response(policy)


operations = [
    Operation(
        "GET",
        "/api/secrets",
        list_secrets,
        "the caller's secrets by name: hosts, created, last used — never the value",
        response=SecretList,
        query=SecretsQuery,
        problems=(403,),
    ),
    Operation(
        "POST",
        "/api/secrets",
        create_secret,
        "store a secret of the caller's, bound to the hosts it may be sent to",
        ok=201,
        response=SecretInfo,
        body=SecretCreate,
        problems=(409, 503),
        description="The value is sealed (AES-256-GCM) before it is stored and is never "
        "returned. A tool header may reference it only from a tool whose URL host is one of "
        "`hosts`; the binding cannot change (delete and create again). 409 when the name is "
        "taken or the caller has the most secrets allowed.",
    ),
    Operation(
        "DELETE",
        "/api/secrets/{name}",
        delete_secret,
        "delete one of the caller's secrets: tools that reference it fail until it exists again",
        ok=204,
        path_params=SecretPath,
        problems=(404, 409),
    ),
    Operation(
        "GET",
        "/api/owners/{owner_id}/egress",
        get_egress,
        "one owner's internal-address exemptions for their tools",
        response=EgressPolicy,
        path_params=OwnerRef,
    ),
    Operation(
        "PUT",
        "/api/owners/{owner_id}/egress",
        put_egress,
        "replace one owner's internal-address exemptions (hosts, addresses or CIDR networks)",
        response=EgressPolicy,
        path_params=OwnerRef,
        body=EgressUpdate,
        description="Only this owner's tools may then call those internal destinations; "
        "TOOL_HTTP_ALLOWLIST is the operator's own.",
    ),
]
