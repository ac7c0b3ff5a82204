"""Who may call: the operator token or Supabase user tokens (HS256, RS256/ES256), nobody else."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.app import create_app
from backend.auth import (
    FETCH_TIMEOUT_S,
    JWKS_TTL_S,
    MIN_REFRESH_S,
    Authenticator,
    JwksCache,
)
from backend.problems import Problem
from shared.contracts.dispatch import OPERATOR_OWNER_ID
from shared.settings import Settings
from tests.backend.conftest import (
    ALICE,
    JWT_SECRET,
    OPERATOR,
    AgentFactory,
    bearer,
    serving,
    user_token,
)
from tests.support.livekit import LiveKitDouble
from tests.support.serving import ThreadedServer

JWKS_PATH = "/auth/v1/.well-known/jwks.json"


class JwksServer:
    """A Supabase Auth stand-in that publishes signing keys (and counts who asked)."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.requests = 0
        self.down = False
        # While set, requests are held unanswered (a stalled provider); `waiting` counts them.
        self.stalled = threading.Event()
        self.waiting = 0

        async def jwks(_: Request) -> Response:
            self.requests += 1
            self.waiting += 1
            try:
                while self.stalled.is_set():  # noqa: ASYNC110 - set from the test's loop
                    await asyncio.sleep(0.02)
            finally:
                self.waiting -= 1
            if self.down:
                return Response("unavailable", 503)
            return JSONResponse({"keys": self.keys})

        self.server = ThreadedServer(Starlette(routes=[Route(JWKS_PATH, jwks)]), name="jwks")

    def publish(self, kid: str, key: Any, alg: str) -> None:
        algorithm = jwt.get_algorithm_by_name(alg)
        public = algorithm.to_jwk(key.public_key(), as_dict=True)
        self.keys.append({**public, "kid": kid, "alg": alg, "use": "sig"})


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    server.server.start()
    yield server
    server.server.stop()


def signed(key: Any, kid: str, alg: str, *, sub: str | None = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": sub or str(ALICE), "aud": "authenticated", "exp": now + 300, **claims}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing"),
        ({"Authorization": "no-scheme"}, "Bearer <token>"),
        ({"Authorization": "Basic abc"}, "Bearer <token>"),
        (bearer("not-the-operator-token"), "neither the operator token nor a JWT"),
        (bearer(user_token(ALICE, expires_in=-120)), "expired"),
        (bearer(user_token(ALICE, secret="another-secret-of-at-least-32-chars!")), "not valid"),
        (bearer(user_token(ALICE, audience="anon")), "not valid"),
        (bearer(user_token("not-a-uuid")), "subject"),
        (bearer(jwt.encode({"sub": str(ALICE)}, "", algorithm="none")), "'none'"),
        (bearer("x" * 10_000), "too long"),
    ],
)
async def test_refused_callers_get_401_with_the_reason(
    client: httpx.AsyncClient, headers: dict[str, str], detail: str
) -> None:
    response = await client.get("/api/agents", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]


async def test_a_token_without_expiry_is_refused(client: httpx.AsyncClient) -> None:
    token = jwt.encode({"sub": str(ALICE), "aud": "authenticated"}, JWT_SECRET, algorithm="HS256")
    response = await client.get("/api/agents", headers=bearer(token))
    assert response.status_code == 401 and "exp" in response.json()["detail"]


@pytest.mark.parametrize(
    "subject",
    [
        str(OPERATOR_OWNER_ID),
        "00000000000000000000000000000000",
        "urn:uuid:00000000-0000-0000-0000-000000000000",
    ],
)
async def test_a_user_token_naming_the_operators_owner_id_is_refused(
    client: httpx.AsyncClient, make_agent: AgentFactory, subject: str
) -> None:
    await make_agent(OPERATOR_OWNER_ID, slug="operators-own")
    # Validly signed with the project's secret: only the subject is wrong.
    token = user_token(subject)
    for path in ("/api/agents", "/api/agents/operators-own", "/api/me"):
        response = await client.get(path, headers=bearer(token))
        assert response.status_code == 401, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "operator's reserved owner id" in response.json()["detail"]
    listed = await client.get("/api/agents", headers=OPERATOR)
    assert [a["slug"] for a in listed.json()["items"]] == ["operators-own"]


async def test_only_health_readiness_and_the_webhook_are_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    for method, path in [
        ("GET", "/api/agents"),
        ("POST", "/api/agents"),
        ("GET", f"/api/agents/{uuid4()}"),
        ("POST", f"/api/agents/{uuid4()}/spawn"),
        ("POST", "/api/voxie/sessions"),
        ("GET", "/api/rooms"),
        ("GET", "/api/stats"),
        ("POST", "/api/gc"),
        ("GET", "/api/sessions"),
        ("GET", f"/api/sessions/{uuid4()}"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/api/me"),
        ("GET", "/api/catalog"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path)


async def test_admin_endpoints_refuse_users(client: httpx.AsyncClient) -> None:
    user = bearer(user_token(ALICE))
    for method, path in [
        ("POST", "/api/gc"),
        ("POST", "/api/rooms/voxie-creation-abcdefgh/close"),
        ("GET", "/metrics"),
    ]:
        response = await client.request(method, path, headers=user)
        assert response.status_code == 403, (method, path)
    assert (await client.get("/metrics", headers=OPERATOR)).status_code == 200


async def test_asymmetric_user_tokens_are_verified_with_the_projects_jwks(
    jwks: JwksServer, livekit: LiveKitDouble, database_url: str
) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks.publish("rsa-1", rsa_key, "RS256")
    jwks.publish("ec-1", ec_key, "ES256")
    url = jwks.server.url
    settings = Settings(
        _env_file=None,
        platform_env="test",
        database_url=database_url,
        supabase_url=url,  # Supabase's issuer and JWKS location follow from it
        livekit_url=livekit.url,
        livekit_api_key=livekit.api_key,
        livekit_api_secret=livekit.api_secret,
    )
    issuer = f"{url}/auth/v1"
    async with serving(create_app(settings, reconcile=False)) as client:
        for token in (
            signed(rsa_key, "rsa-1", "RS256", iss=issuer),
            signed(ec_key, "ec-1", "ES256", iss=issuer),
        ):
            response = await client.get("/api/agents", headers=bearer(token))
            assert response.status_code == 200, response.text
        assert jwks.requests == 1  # cached

        other_issuer = signed(rsa_key, "rsa-1", "RS256", iss="https://evil.example/auth/v1")
        forged = signed(rsa.generate_private_key(65537, 2048), "rsa-1", "RS256", iss=issuer)
        unknown_kid = signed(rsa_key, "rsa-9", "RS256", iss=issuer)
        hs256 = user_token(ALICE, iss=issuer)  # no legacy secret configured
        for token in (other_issuer, forged, unknown_kid, hs256):
            response = await client.get("/api/agents", headers=bearer(token))
            assert response.status_code == 401, response.text
        # The operator token is not configured either: nothing else gets in.
        assert (await client.get("/api/agents", headers=OPERATOR)).status_code == 401


async def test_jwks_is_fetched_again_for_a_new_kid_but_not_flooded(jwks: JwksServer) -> None:
    old, new = (rsa.generate_private_key(65537, 2048) for _ in range(2))
    jwks.publish("old", old, "RS256")
    now = [1000.0]
    async with httpx.AsyncClient() as http:
        cache = JwksCache(jwks.server.url + JWKS_PATH, http, clock=lambda: now[0])
        assert await cache.key("old") is not None
        jwks.publish("new", new, "RS256")  # the project rotated its keys
        now[0] += 1
        assert await cache.key("new") is None  # a refresh this soon would let tokens flood it
        assert jwks.requests == 1
        now[0] += MIN_REFRESH_S
        assert await cache.key("new") is not None
        assert jwks.requests == 2
        jwks.down = True
        now[0] += 10_000  # stale, and the provider is down: the known keys keep working
        assert await cache.key("old") is not None


async def test_jwks_unreachable_with_no_keys_is_503(jwks: JwksServer) -> None:
    jwks.down = True
    async with httpx.AsyncClient() as http:
        auth = Authenticator(
            Settings(_env_file=None, supabase_jwks_url=jwks.server.url + JWKS_PATH), http
        )
        key = rsa.generate_private_key(65537, 2048)
        with pytest.raises(Problem) as refused:
            await auth.authenticate(f"Bearer {signed(key, 'k', 'RS256')}")
        assert refused.value.status == 503


async def test_a_stalled_jwks_refresh_holds_no_request_and_runs_once_per_interval(
    jwks: JwksServer,
) -> None:
    key = rsa.generate_private_key(65537, 2048)
    jwks.publish("k1", key, "RS256")
    now = [1000.0]
    async with httpx.AsyncClient() as http:
        cache = JwksCache(jwks.server.url + JWKS_PATH, http, clock=lambda: now[0])
        assert await cache.key("k1") is not None
        jwks.stalled.set()
        now[0] += JWKS_TTL_S + 1  # the keys are due for a refresh, and the provider hangs
        try:
            # Every request is answered from the cache while the one refresh hangs.
            found = await asyncio.gather(*(cache.key("k1") for _ in range(50)))
            assert all(k is not None for k in found)
            await wait_until(lambda: jwks.waiting == 1)  # the refresh is still held...
            assert jwks.requests == 2
            now[0] += 1
            assert await cache.key("k1") is not None  # ...and no other one starts
            assert jwks.requests == 2
        finally:
            jwks.down = True  # the held refresh ends in an error
            jwks.stalled.clear()
        await wait_until(lambda: not cache.refreshing)
        now[0] += MIN_REFRESH_S
        await cache.key("k1")  # the next interval: one more try, which fails
        await wait_until(lambda: not cache.refreshing)
        assert jwks.requests == 3
        # Failing refreshes change nothing for known keys, and still run once per interval.
        found = await asyncio.gather(*(cache.key("k1") for _ in range(50)))
        assert all(k is not None for k in found) and jwks.requests == 3


async def test_after_a_stalled_jwks_answers_again_the_next_fetch_recovers_when_retry_after_says(
    jwks: JwksServer,
) -> None:
    key = rsa.generate_private_key(65537, 2048)
    jwks.publish("k1", key, "RS256")
    now = [1000.0]
    jwks.stalled.set()  # the provider hangs from the start: no key was ever fetched
    try:
        async with httpx.AsyncClient() as http:
            cache = JwksCache(jwks.server.url + JWKS_PATH, http, clock=lambda: now[0])
            first = asyncio.create_task(cache.key("k1"))
            await wait_until(lambda: jwks.waiting == 1)
            now[0] += FETCH_TIMEOUT_S  # the stall lasts the whole fetch
            with pytest.raises(Problem) as refused:
                await first
            assert refused.value.status == 503
            retry_after = int(refused.value.headers["Retry-After"])
            jwks.stalled.clear()  # the provider answers again

            # Until the next fetch may start, requests are refused at once, and told the
            # time that is really left.
            now[0] += 1
            with pytest.raises(Problem) as again:
                await cache.key("k1")
            assert int(again.value.headers["Retry-After"]) == retry_after - 1
            assert jwks.requests == 1

            # A request when Retry-After said fetches, and is let in: no back-off to wait out.
            now[0] += retry_after - 1
            assert await cache.key("k1") is not None
            assert jwks.requests == 2
    finally:
        jwks.stalled.clear()


async def test_requests_for_an_unknown_kid_share_one_bounded_fetch(jwks: JwksServer) -> None:
    key = rsa.generate_private_key(65537, 2048)
    jwks.publish("k1", key, "RS256")
    jwks.stalled.set()
    try:
        async with httpx.AsyncClient() as http:
            auth = Authenticator(
                Settings(_env_file=None, supabase_jwks_url=jwks.server.url + JWKS_PATH), http
            )
            tokens = [f"Bearer {signed(key, 'k1', 'RS256', sub=str(uuid4()))}" for _ in range(20)]
            began = time.monotonic()
            outcomes = await asyncio.gather(
                *(auth.authenticate(token) for token in tokens), return_exceptions=True
            )
            elapsed = time.monotonic() - began
            # The provider never answered: one fetch, given up, and every caller told so.
            assert jwks.requests == 1
            for outcome in outcomes:
                assert isinstance(outcome, Problem) and outcome.status == 503
            # Within the interval, callers are refused at once without another fetch.
            with pytest.raises(Problem):
                await auth.authenticate(tokens[0])
            assert jwks.requests == 1
            print(f"20 requests behind a stalled JWKS fetch answered 503 in {elapsed:.2f} s")
    finally:
        jwks.stalled.clear()


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")
