"""The dashboard's one-click sign-in for local development: `POST /api/dev/sign-in`.

Only a backend with `PLATFORM_ENV=dev` that listens on loopback has the route at all, and it
answers only a request that came over loopback to a loopback host name and through no proxy
(a DNS-rebinding page, or a request carrying any forwarding header — Forwarded, X-Forwarded-For,
X-Real-IP, … — gets the same 404 as an unknown route). Everywhere else there is no such
route: 404, as for any unknown path.

It signs the caller in as the fixed dev user (`DEV_USER_ID`) or as the operator, with a
short-lived HS256 token that `backend.auth.Authenticator` verifies with the dev secret
(`DEV_AUTH_SECRET`; `scripts/start` keeps one in `.data/`, a backend started without it makes
its own). Tokens carry the issuer `DEV_ISSUER`, so no Supabase token can pass for one.

Request and answer:

    POST /api/dev/sign-in  {"as": "user"}
    200 {"access_token": "eyJ…", "expires_at": 1764600000,
         "user": {"id": "00000000-0000-4000-8000-00000000c0de", "email": "dev@localhost",
                  "operator": false}}
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Literal

import jwt
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import AUDIENCE, DEV_ISSUER, DEV_OPERATOR_SUBJECT
from backend.http import json_response, read_model, services
from backend.operations import Operation
from shared.contracts.dispatch import DEV_USER_ID
from shared.logging import get_logger
from shared.settings import Settings, is_loopback

log = get_logger(__name__)

# Short: a dev token is one click away, and a leaked one should not outlive the afternoon.
DEV_TOKEN_TTL_S = 3600
EMAILS = {"user": "dev@localhost", "operator": "operator@localhost"}


def dev_secret(settings: Settings) -> str | None:
    """The key dev tokens are signed and verified with: DEV_AUTH_SECRET, else one made for this
    process; None where dev sign-in is off (no dev token is then accepted either)."""
    if not settings.dev_sign_in:
        return None
    if settings.dev_auth_secret is not None:
        return settings.dev_auth_secret.get_secret_value()
    log.info("dev_auth_secret_generated", effect="dev sign-ins end when this backend stops")
    return secrets.token_urlsafe(32)


class DevSignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    as_: Annotated[Literal["user", "operator"], Field(alias="as")]


class DevUser(BaseModel):
    id: str | None = Field(description="the user id; null for the operator")
    email: str
    operator: bool


class DevSession(BaseModel):
    access_token: str = Field(description="send as `Authorization: Bearer`")
    expires_at: int = Field(description="unix seconds")
    user: DevUser


def mint(secret: str, role: Literal["user", "operator"], *, now: float | None = None) -> DevSession:
    issued = int(time.time() if now is None else now)
    expires_at = issued + DEV_TOKEN_TTL_S
    subject = str(DEV_USER_ID) if role == "user" else DEV_OPERATOR_SUBJECT
    claims = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": issued,
        "exp": expires_at,
        "email": EMAILS[role],
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    user_id = str(DEV_USER_ID) if role == "user" else None
    return DevSession(
        access_token=token,
        expires_at=expires_at,
        user=DevUser(id=user_id, email=EMAILS[role], operator=role == "operator"),
    )


# Headers a proxy adds to say whom it forwards for. A browser on this machine talking to the dev
# backend directly sends none of them; a request that carries any came through something in
# between — and a proxy on loopback (nginx, a tunnel, a dev server's proxy) makes every remote
# client it forwards look like loopback. uvicorn's `proxy_headers` reads only X-Forwarded-For,
# and only from the proxies it trusts; Forwarded, X-Real-IP and the vendors' headers it ignores,
# so the client address cannot be trusted whichever of them is set. Rather than guess which
# header a given proxy uses and whether to believe it, a forwarded request is never loopback.
FORWARDING_HEADERS = (
    "forwarded",
    "forwarded-for",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-real-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "via",  # RFC 9110 asks every proxy to add it
)


def _over_loopback(request: Request) -> bool:
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    client = request.client.host if request.client else None
    return is_loopback(client) and is_loopback(request.url.hostname)


async def dev_sign_in(request: Request) -> Response:
    secret = services(request).auth.dev_secret
    if secret is None or not _over_loopback(request):
        # Exactly what an unknown route answers: nothing tells a remote caller it exists.
        raise HTTPException(404)
    body = await read_model(request, DevSignIn)
    session = mint(secret, body.as_)
    log.info("dev_sign_in", role=body.as_)
    return json_response(session)


operations = [
    Operation(
        "POST",
        "/api/dev/sign-in",
        dev_sign_in,
        "local development only: sign in as the dev user or the operator",
        response=DevSession,
        body=DevSignIn,
        problems=(404,),
        description="Exists only with PLATFORM_ENV=dev on a loopback BACKEND_HOST, and answers "
        "only requests over loopback that carry no forwarding header (Forwarded, "
        "X-Forwarded-For, X-Real-IP, …); 404 everywhere else.",
    )
]
