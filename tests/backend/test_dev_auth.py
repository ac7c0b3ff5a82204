"""The dashboard's one-click dev sign-in (`POST /api/dev/sign-in`) and `GET /api/me`: a real
token for the dev user or the operator where PLATFORM_ENV is dev and everything is loopback,
and exactly an unknown route's 404 everywhere else."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette

from backend.app import create_app
from backend.auth import DEV_ISSUER
from backend.dev_auth import DEV_TOKEN_TTL_S, mint
from shared.contracts.dispatch import DEV_USER_ID, OPERATOR_OWNER_ID
from shared.settings import Settings
from tests.backend.conftest import ALICE, OPERATOR, as_user, backend_settings, bearer
from tests.support.livekit import LiveKitDouble

DEV_SECRET = "dev-auth-secret-for-tests-0123456789abcdef"
SIGN_IN = "/api/dev/sign-in"


def dev_settings(livekit: LiveKitDouble, database_url: str, **values: Any) -> Settings:
    base: dict[str, Any] = {"platform_env": "dev", "dev_auth_secret": DEV_SECRET}
    return backend_settings(livekit, database_url, **(base | values))


@contextlib.asynccontextmanager
async def calling(
    app: Starlette, *, client: str = "127.0.0.1", host: str = "127.0.0.1:8000"
) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process, called from address `client` with the Host header `host`."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client, 40_000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as http:
            yield http


async def unknown_route(http: httpx.AsyncClient) -> dict[str, Any]:
    """What the API answers for a path it does not have, minus what differs per request."""
    response = await http.post("/api/no-such-route", json={"as": "user"})
    return comparable(response)


def comparable(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    return {k: v for k, v in body.items() if k not in ("instance", "request_id")}


async def test_a_dev_user_signs_in_and_the_token_is_theirs(
    livekit: LiveKitDouble, database_url: str
) -> None:
    app = create_app(dev_settings(livekit, database_url), reconcile=False)
    async with calling(app) as http:
        before = time.time()
        response = await http.post(SIGN_IN, json={"as": "user"})
        assert response.status_code == 200, response.text
        session = response.json()
        assert session["user"] == {
            "id": str(DEV_USER_ID),
            "email": "dev@localhost",
            "operator": False,
        }
        # Short-lived: an hour from now, and the token itself says so.
        assert before + DEV_TOKEN_TTL_S - 5 <= session["expires_at"] <= time.time() + 3600
        claims = jwt.decode(session["access_token"], options={"verify_signature": False})
        assert claims["exp"] == session["expires_at"] and claims["iss"] == DEV_ISSUER

        me = await http.get("/api/me", headers=bearer(session["access_token"]))
        assert me.json() == {
            "user_id": str(DEV_USER_ID),
            "operator": False,
            "owner_id": str(DEV_USER_ID),
        }
        # The dev user is a user like any other: it creates and lists its own agents.
        created = await create_agent(http, session["access_token"], "dev-agent")
        assert created.status_code == 201, created.text
        assert created.json()["owner_id"] == str(DEV_USER_ID)
        listed = await http.get("/api/agents", headers=bearer(session["access_token"]))
        assert [a["slug"] for a in listed.json()["items"]] == ["dev-agent"]
        # The operator's endpoints stay the operator's.
        rooms = await http.post("/api/gc", headers=bearer(session["access_token"]))
        assert rooms.status_code == 403


async def create_agent(http: httpx.AsyncClient, token: str, slug: str) -> httpx.Response:
    body = {"slug": slug, "name": slug.replace("-", " ").title(), "instructions": "Be brief."}
    return await http.post("/api/agents", headers=bearer(token), json=body)


async def test_the_operator_signs_in_as_the_operator(
    livekit: LiveKitDouble, database_url: str
) -> None:
    app = create_app(dev_settings(livekit, database_url), reconcile=False)
    async with calling(app, host="localhost:8000") as http:
        session = (await http.post(SIGN_IN, json={"as": "operator"})).json()
        assert session["user"] == {"id": None, "email": "operator@localhost", "operator": True}
        me = await http.get("/api/me", headers=bearer(session["access_token"]))
        assert me.json() == {
            "user_id": None,
            "operator": True,
            "owner_id": str(OPERATOR_OWNER_ID),
        }
        # The agents the operator creates are theirs in the list too.
        created = await create_agent(http, session["access_token"], "ops-agent")
        assert created.json()["owner_id"] == me.json()["owner_id"]
        rooms = await http.get("/api/stats", headers=bearer(session["access_token"]))
        assert rooms.status_code == 200 and rooms.json()["capacity"] is not None


async def test_tokens_not_signed_with_the_dev_secret_or_expired_are_refused(
    livekit: LiveKitDouble, database_url: str
) -> None:
    app = create_app(dev_settings(livekit, database_url), reconcile=False)
    forged = mint("another-secret-of-at-least-thirty-two-chars", "operator").access_token
    expired = mint(DEV_SECRET, "user", now=time.time() - 2 * DEV_TOKEN_TTL_S).access_token
    async with calling(app) as http:
        for token in (forged, expired):
            response = await http.get("/api/me", headers=bearer(token))
            assert response.status_code == 401, response.text
        assert "expired" in response.json()["detail"]


async def test_no_dev_token_names_the_operators_owner_id(
    livekit: LiveKitDouble, database_url: str
) -> None:
    # What the sign-in mints never carries the reserved id...
    for session in (mint(DEV_SECRET, "user"), mint(DEV_SECRET, "operator")):
        claims = jwt.decode(session.access_token, options={"verify_signature": False})
        assert claims["sub"] != str(OPERATOR_OWNER_ID)
    # ...and a token signed with the dev secret that does is refused like a Supabase one.
    now = int(time.time())
    claims = {"iss": DEV_ISSUER, "aud": "authenticated", "sub": str(OPERATOR_OWNER_ID)}
    reserved = jwt.encode(claims | {"exp": now + 60}, DEV_SECRET, algorithm="HS256")
    app = create_app(dev_settings(livekit, database_url), reconcile=False)
    async with calling(app) as http:
        response = await http.get("/api/me", headers=bearer(reserved))
        assert response.status_code == 401, response.text
        assert "operator's reserved owner id" in response.json()["detail"]


async def test_bad_bodies_are_refused(livekit: LiveKitDouble, database_url: str) -> None:
    app = create_app(dev_settings(livekit, database_url), reconcile=False)
    async with calling(app) as http:
        for body in ({"as": "admin"}, {}, {"as": "user", "extra": 1}):
            response = await http.post(SIGN_IN, json=body)
            assert response.status_code == 422, body
        # A page on another site may POST text/plain (or a form) here without a CORS
        # preflight: such a body is not taken for JSON.
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = await http.post(
                SIGN_IN, content=b'{"as": "operator"}', headers={"Content-Type": content_type}
            )
            assert response.status_code == 415, content_type


@pytest.mark.parametrize(
    ("why", "values", "client", "host"),
    [
        ("PLATFORM_ENV is test", {"platform_env": "test"}, "127.0.0.1", "127.0.0.1:8000"),
        ("PLATFORM_ENV is prod", {"platform_env": "prod"}, "127.0.0.1", "127.0.0.1:8000"),
        ("listening on every address", {"backend_host": "0.0.0.0"}, "127.0.0.1", "127.0.0.1"),  # noqa: S104
        ("a remote client", {}, "203.0.113.7", "127.0.0.1:8000"),
        ("a client on the private network", {}, "10.0.0.8", "127.0.0.1"),
        ("a non-loopback Host (DNS rebinding)", {}, "127.0.0.1", "evil.example:8000"),
    ],
)
async def test_refused_with_an_unknown_routes_404_everywhere_else(
    livekit: LiveKitDouble,
    database_url: str,
    why: str,
    values: dict[str, Any],
    client: str,
    host: str,
) -> None:
    if values.get("platform_env") == "prod":
        values = values | {"livekit_api_key": "prod-key", "livekit_api_secret": "s" * 40}
    app = create_app(dev_settings(livekit, database_url, **values), reconcile=False)
    async with calling(app, client=client, host=host) as http:
        refused = await http.post(SIGN_IN, json={"as": "operator"})
        assert comparable(refused) == await unknown_route(http), why
        # Where the backend may not have it at all, it is not even documented, and no dev
        # token, even one signed with the right secret, is accepted.
        assert (SIGN_IN in app.state.openapi["paths"]) is (not values), why
        token = mint(DEV_SECRET, "operator").access_token
        accepted = (await http.get("/api/me", headers=bearer(token))).status_code == 200
        assert accepted is (not values), why


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Forwarded", "for=203.0.113.7;proto=http"),
        ("Forwarded", "for=127.0.0.1"),  # whatever it claims: it came through a proxy
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Real-IP", "203.0.113.7"),
        ("X-Forwarded-Host", "127.0.0.1:8000"),
        ("True-Client-IP", "203.0.113.7"),
        ("CF-Connecting-IP", "203.0.113.7"),
        ("X-Client-IP", "203.0.113.7"),
        ("X-Cluster-Client-IP", "203.0.113.7"),
        ("Forwarded-For", "203.0.113.7"),
        ("Via", "1.1 proxy.example"),
    ],
)
async def test_refused_through_a_proxy_on_loopback(
    livekit: LiveKitDouble, database_url: str, header: str, value: str
) -> None:
    # The proxy runs on this machine: the connection is loopback, the Host too; only the
    # header says a remote client is behind it.
    app = create_app(dev_settings(livekit, database_url), reconcile=False)
    async with calling(app) as http:
        refused = await http.post(SIGN_IN, json={"as": "operator"}, headers={header: value})
        assert comparable(refused) == await unknown_route(http), header
        direct = await http.post(SIGN_IN, json={"as": "operator"})
        assert direct.status_code == 200  # the same request straight from this machine


async def test_me_for_supabase_users_and_the_operator_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/me", headers=as_user(ALICE))).json() == {
        "user_id": str(ALICE),
        "operator": False,
        "owner_id": str(ALICE),
    }
    assert (await client.get("/api/me", headers=OPERATOR)).json() == {
        "user_id": None,
        "operator": True,
        "owner_id": str(OPERATOR_OWNER_ID),
    }
    assert (await client.get("/api/me")).status_code == 401
