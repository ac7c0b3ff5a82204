"""Health, readiness, metrics, request ids, unknown routes, CORS, and the headers every answer
carries."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from livekit.protocol import models, webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from backend.app import SecurityHeaders, create_app
from shared.settings import Settings
from tests.backend.conftest import (
    OPERATOR,
    assert_unframable_and_not_sniffed,
    backend_settings,
    serving,
)
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.webhooks import WEBHOOK_CONTENT_TYPE, encode_event, signed_headers
from tests.support.tcp_proxy import BlackHole
from voxiectl.livekit_local import free_port


async def test_ready_when_the_store_and_livekit_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"store": "ok", "livekit": "ok"}


async def test_not_ready_while_livekit_is_down(
    client: httpx.AsyncClient, livekit: LiveKitDouble
) -> None:
    async with livekit.outage():
        response = await client.get("/readyz")
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response.json()["checks"]["livekit"].startswith("unavailable")
    assert (await client.get("/healthz")).status_code == 200  # alive all the same


async def test_not_ready_while_the_store_is_down(livekit: LiveKitDouble) -> None:
    settings = backend_settings(livekit, f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    async with serving(create_app(settings, reconcile=False)) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["store"].startswith("unavailable")
        assert response.json()["checks"]["livekit"] == "ok"


async def test_every_answer_carries_a_request_id(client: httpx.AsyncClient) -> None:
    mine = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert mine.headers["x-request-id"] == "trace-123"
    refused = await client.get("/api/agents", headers={"X-Request-ID": "bad id\n" * 3})
    assert len(refused.headers["x-request-id"]) == 32  # not echoed: a fresh one
    assert refused.json()["request_id"] == refused.headers["x-request-id"]


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/nothing-here", headers=OPERATOR)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.put("/api/agents", headers=OPERATOR)
    assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
    assert wrong.json()["status"] == 405


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/api/agents", headers=OPERATOR)
    text = (await client.get("/metrics", headers=OPERATOR)).text
    assert 'voxie_backend_requests_total{method="GET",route="/api/agents",status="200"} 1.0' in text
    assert "voxie_backend_request_seconds_bucket" in text


async def test_cors_admits_only_the_configured_dashboard(
    livekit: LiveKitDouble, database_url: str
) -> None:
    settings: Settings = backend_settings(
        livekit, database_url, backend_cors_origins='["https://app.example.com"]'
    )
    async with serving(create_app(settings, reconcile=False)) as client:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        ok = await client.options(
            "/api/agents", headers={"Origin": "https://app.example.com", **preflight}
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example.com"
        other = await client.options(
            "/api/agents", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers
        simple = await client.get(
            "/api/agents", headers={"Origin": "https://app.example.com", **OPERATOR}
        )
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


async def test_every_answer_is_unframable_and_never_sniffed(
    client: httpx.AsyncClient, livekit: LiveKitDouble
) -> None:
    event = webhook.WebhookEvent(event="room_started", id="EV_headers")
    event.room.CopyFrom(models.Room(name="voxie-creation-headers1", sid="RM_headers"))
    hook = encode_event(event)
    signed = signed_headers(hook, livekit.api_key, livekit.api_secret)
    answers = [
        await client.get("/healthz"),
        await client.get("/readyz"),
        await client.get("/api/agents", headers=OPERATOR),  # JSON
        await client.get("/api/agents"),  # 401 problem
        await client.get("/api/nothing-here", headers=OPERATOR),  # 404 problem
        await client.put("/api/agents", headers=OPERATOR),  # 405 problem
        await client.post("/api/agents", headers=OPERATOR, json={"slug": "x"}),  # 422 problem
        await client.get("/openapi.json", headers=OPERATOR),
        await client.get("/metrics", headers=OPERATOR),  # text
        await client.get("/dashboard-config.json"),
        await client.post("/api/livekit/webhook", content=hook, headers=signed),
        await client.post(  # 401
            "/api/livekit/webhook", content=hook, headers={"Content-Type": WEBHOOK_CONTENT_TYPE}
        ),
        await client.options(  # CORS' own answer: a preflight from an origin not allowed
            "/api/agents",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        ),
    ]
    assert [a.status_code for a in answers] == [
        200, 200, 200, 401, 404, 405, 422, 200, 200, 200, 200, 401, 400
    ]  # fmt: skip
    for answer in answers:
        assert_unframable_and_not_sniffed(answer)


async def csp_of(request: Request) -> Response:
    policy = request.query_params.get("csp")
    headers = {"Content-Security-Policy": policy} if policy is not None else {}
    return PlainTextResponse("page", headers=headers)


async def test_a_policy_a_response_brings_is_merged_and_its_own_frame_ancestors_kept() -> None:
    app = SecurityHeaders(Starlette(routes=[Route("/", csp_of)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://backend") as http:
        plain = await http.get("/")
        assert_unframable_and_not_sniffed(plain)
        # A page with a policy of its own gets frame-ancestors in that one header, not two.
        own = await http.get("/", params={"csp": "default-src 'self'; "})
        assert own.headers.get_list("content-security-policy") == [
            "default-src 'self'; frame-ancestors 'none'"
        ]
        assert own.headers["x-frame-options"] == "DENY"
        # A page that names who may frame it (a public call page, one day) keeps that.
        embeddable = "frame-ancestors https://shop.example"
        framed = await http.get("/", params={"csp": embeddable})
        assert framed.headers.get_list("content-security-policy") == [embeddable]
        assert "x-frame-options" not in framed.headers
        assert framed.headers["x-content-type-options"] == "nosniff"


@pytest.mark.timeout(60)
async def test_a_frozen_database_is_reported_and_then_refused_fast(livekit: LiveKitDouble) -> None:
    async with BlackHole() as hole:
        frozen = f"postgresql://postgres@127.0.0.1:{hole.port}/voxie"
        settings = backend_settings(livekit, frozen, store_timeout_s=2)
        async with serving(create_app(settings, reconcile=False)) as client:
            began = time.monotonic()
            ready = await client.get("/readyz")
            ready_s = time.monotonic() - began
            assert ready.status_code == 503
            assert ready.json()["checks"]["store"].startswith("unavailable")
            # The first requests wait out the store's deadline...
            first = await asyncio.gather(
                *(client.get("/api/agents", headers=OPERATOR) for _ in range(2))
            )
            assert [r.status_code for r in first] == [503, 503]
            reached = hole.accepted
            # ...then the breaker answers for the database, at once, without reaching it.
            began = time.monotonic()
            later = await asyncio.gather(
                *(client.get("/api/agents", headers=OPERATOR) for _ in range(10)),
                client.get("/api/sessions", headers=OPERATOR),
                client.get("/readyz"),
            )
            later_s = time.monotonic() - began
            for response in later:
                assert response.status_code == 503, response.text
            assert later[0].json()["type"].endswith("store-unavailable")
            assert later[0].headers["retry-after"]
            assert hole.accepted == reached
            print(
                f"readyz reported a frozen store in {ready_s:.2f} s;"
                f" 12 later requests answered in {later_s:.3f} s"
            )
