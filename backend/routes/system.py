"""Operations: `GET /healthz` (the process answers), `GET /readyz` (the store and LiveKit answer),
`GET /metrics` (Prometheus, operator token) and `GET /openapi.json`."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import RootModel
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import Principal
from backend.bodies import Health, Ready
from backend.http import authenticated, json_response, services
from backend.operations import Operation
from backend.problems import Problem
from backend.rooms import LiveKitError
from shared.store import StoreError

# A probe asks and reports within this; a dependency slower than this is not ready.
READY_TIMEOUT_S = 1.5


async def healthz(_: Request) -> Response:
    return json_response(Health(status="ok"))


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
    return json_response(Ready(status="ready", checks=checks))


@authenticated(operator=True)
async def metrics(request: Request, _: Principal) -> Response:
    registry = services(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@authenticated()
async def openapi(request: Request, _: Principal) -> Response:
    document: dict[str, Any] = request.app.state.openapi
    return json_response(document)


class OpenApiDocument(RootModel[dict[str, Any]]):
    """An OpenAPI 3.1 document."""


class PrometheusText(RootModel[str]):
    """Prometheus' text exposition format."""


operations = [
    Operation("GET", "/healthz", healthz, "liveness: the process answers", response=Health),
    Operation(
        "GET",
        "/readyz",
        readyz,
        "readiness: the store and LiveKit answer",
        response=Ready,
        problems=(503,),
    ),
    Operation(
        "GET",
        "/metrics",
        metrics,
        "Prometheus metrics (operator)",
        response=PrometheusText,
        media_type="text/plain",
    ),
    Operation("GET", "/openapi.json", openapi, "this document", response=OpenApiDocument),
]
