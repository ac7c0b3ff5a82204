"""Operations: `GET /healthz` (the process answers), `GET /readyz` (the store and LiveKit answer),
`GET /metrics` (Prometheus, operator token) and `GET /openapi.json`."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.auth import Principal
from backend.http import authenticated, json_response, services
from backend.openapi import openapi_document
from backend.problems import Problem
from backend.rooms import LiveKitError
from shared.store import StoreError

# A probe asks and reports within this; a dependency slower than this is not ready.
READY_TIMEOUT_S = 1.5


async def healthz(_: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    svc = services(request)
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(svc.store.ping(), READY_TIMEOUT_S)
        checks["store"] = "ok"
    except (StoreError, TimeoutError) as exc:
        checks["store"] = f"unavailable: {type(exc).__name__}"
    if svc.livekit is None:
        checks["livekit"] = "not configured"
    else:
        try:
            await asyncio.wait_for(svc.livekit.list_rooms(), READY_TIMEOUT_S)
            checks["livekit"] = "ok"
        except (LiveKitError, TimeoutError) as exc:
            checks["livekit"] = f"unavailable: {type(exc).__name__}"
    failing = [name for name, result in checks.items() if result.startswith("unavailable")]
    if failing:
        raise Problem(
            503,
            "not-ready",
            f"not ready: {', '.join(failing)} unreachable",
            headers={"Retry-After": "5"},
            checks=checks,
        )
    return json_response({"status": "ready", "checks": checks})


@authenticated(operator=True)
async def metrics(request: Request, _: Principal) -> Response:
    registry = services(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@authenticated()
async def openapi(request: Request, _: Principal) -> Response:
    document: dict[str, Any] = openapi_document()
    return json_response(document)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
