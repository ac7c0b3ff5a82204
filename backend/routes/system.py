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
from backend.bodies import Health, Ready, WorkerCount
from backend.http import authenticated, json_response, services
from backend.operations import Operation
from backend.problems import Problem
from backend.services import Services
from shared import deadline
from shared.rooms import LiveKitError
from shared.store import StoreError

# A probe asks and reports within this: its own budget, shorter than a request's, that both
# checks (side by side) draw from; a dependency slower than this is not ready.
READY_TIMEOUT_S = 1.5


async def healthz(_: Request) -> Response:
    return json_response(Health(status="ok"))


async def readyz(request: Request) -> Response:
    svc = services(request)
    with deadline.budget(READY_TIMEOUT_S):
        store, livekit, workers = await asyncio.gather(
            _store_check(svc), _livekit_check(svc), _workers(svc)
        )
    checks = {"store": store, "livekit": livekit}
    failing = [name for name, result in checks.items() if result.startswith("unavailable")]
    if failing:
        raise Problem(
            503,
            "not-ready",
            f"not ready: {', '.join(failing)} unreachable",
            headers={"Retry-After": "5"},
            checks=checks,
        )
    return json_response(Ready(status="ready", checks=checks, workers=workers))


async def _store_check(svc: Services) -> str:
    try:
        await svc.store.ping()
    except StoreError as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def _workers(svc: Services) -> dict[str, WorkerCount] | None:
    if svc.workers is None:
        return None
    try:
        fleet = await svc.workers.fleet(fresh=True)
    except StoreError:
        return None  # the store check says why
    return {
        role.value: WorkerCount(alive=count.alive, available=count.available)
        for role, count in fleet.counts().items()
    }


async def _livekit_check(svc: Services) -> str:
    if svc.livekit is None:
        return "not configured"
    try:
        await svc.livekit.list_rooms()
    except LiveKitError as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


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
        "readiness: the store and LiveKit answer; how many workers of each kind are alive",
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
