"""Health, readiness, metrics, request ids, unknown routes and CORS."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from backend.app import create_app
from shared.settings import Settings
from tests.backend.conftest import OPERATOR, backend_settings, serving
from tests.support.livekit import LiveKitDouble
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
