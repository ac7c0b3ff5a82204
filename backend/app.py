"""`create_app(settings) -> Starlette`: the backend's routes, its middleware, and a lifespan that
owns every client (the store, LiveKit's server API, an HTTP client for the JWKS) and the
reconciler task. `python -m backend` serves it with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend import dashboard, dev_auth
from backend.api_keys import ApiKeys
from backend.auth import Authenticator
from backend.limits import RateLimiter, RoomCensus
from backend.metrics import Metrics
from backend.operations import Operation, openapi_document, routes
from backend.problems import Problem, problem_response
from backend.reconciler import Reconciler
from backend.routes import (
    agents,
    analytics,
    api_keys,
    catalog,
    event_webhooks,
    me,
    rooms,
    secrets,
    sessions,
    system,
    versions,
    voxie,
    webhook,
)
from backend.services import Services
from backend.webhook_sender import WebhookSender
from backend.workers import WorkerCensus
from shared import deadline
from shared.addresses import Resolver, system_resolver
from shared.livekit_api import livekit_api
from shared.logging import bind_log_context, get_logger
from shared.rooms import LiveKitRefused, LiveKitRooms, LiveKitUnavailable, RoomGone, Rooms
from shared.settings import Settings
from shared.store import (
    Conflict,
    InvalidInput,
    NotFound,
    StoreUnavailable,
    UnreadableAgent,
    open_store,
)

log = get_logger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

OPERATIONS: list[Operation] = [
    *system.operations,
    *dashboard.operations,
    *me.operations,
    *catalog.operations,
    *agents.operations,
    *versions.operations,
    *voxie.operations,
    *webhook.operations,
    *rooms.operations,
    *sessions.operations,
    *analytics.operations,
    *secrets.operations,
    *api_keys.operations,
    *event_webhooks.operations,
]


def operations_for(settings: Settings) -> list[Operation]:
    """Every operation `settings` gives the API: the dev sign-in only exists where it may."""
    dev = dev_auth.operations if settings.dev_sign_in else []
    return [*OPERATIONS, *dev]


def create_app(
    settings: Settings, *, reconcile: bool = True, resolve: Resolver = system_resolver
) -> Starlette:
    """The API for `settings`; `reconcile=False` leaves the background loops off (the
    reconciler: `POST /api/gc` still runs a pass; the event webhook sender), for tests that
    drive them themselves; `resolve` is how tool and webhook URLs are resolved."""

    dev_secret = dev_auth.dev_secret(settings)
    dist = dashboard.dist_dir(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dashboard.log_build(dist)
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(httpx.AsyncClient())
            store = await open_store(settings)
            stack.push_async_callback(store.close)
            metrics = Metrics()
            livekit: Rooms | None = None
            census: RoomCensus | None = None
            reconciler: Reconciler | None = None
            workers = WorkerCensus(settings, store)
            if settings.livekit_configured:
                # LiveKitRooms puts the deadline on each whole call (see shared.livekit_api).
                client = livekit_api(settings)
                stack.push_async_callback(client.aclose)
                livekit = LiveKitRooms(client, timeout_s=settings.livekit_api_timeout_s)
                census = RoomCensus(_room_names(livekit))
                reconciler = Reconciler(settings, store, livekit, metrics, workers=workers)
                stack.push_async_callback(reconciler.release)
            else:
                log.warning("livekit_not_configured", effect="room endpoints answer 503")
            keys = ApiKeys(settings.api_key_hash_keys, store)
            app.state.services = Services(
                settings=settings,
                store=store,
                auth=Authenticator(settings, http, dev_secret=dev_secret, api_keys=keys),
                api_keys=keys,
                metrics=metrics,
                limiter=RateLimiter(settings.spawn_rate_per_minute),
                livekit=livekit,
                census=census,
                reconciler=reconciler,
                workers=workers,
                resolve=resolve,
            )
            if reconcile:
                # The event outbox's sender: one replica at a time, like the reconciler, but
                # with LiveKit or without (events are the database's).
                sender = WebhookSender(settings, store, http, metrics, resolve=resolve)
                stack.push_async_callback(sender.release)
                sending = asyncio.create_task(sender.run_forever(), name="webhook-sender")
                stack.push_async_callback(_cancel, sending)
            if reconciler is not None and reconcile:
                task = asyncio.create_task(reconciler.run_forever(), name="reconciler")
                stack.push_async_callback(_cancel, task)
                # A worker gaining room wakes the reconciler: a dropped dispatch heals in ~1 s.
                watch = asyncio.create_task(workers.watch(reconciler.nudge), name="worker-watch")
                stack.push_async_callback(_cancel, watch)
            log.info(
                "backend_started",
                store=settings.store_kind.value,
                livekit=settings.livekit_configured,
                reconciler=reconcile and reconciler is not None,
            )
            yield

    operations = operations_for(settings)
    api_routes: list[BaseRoute] = [*routes(operations)]
    templates = {route.endpoint: route.path for route in api_routes if isinstance(route, Route)}
    app = Starlette(
        routes=api_routes,
        middleware=[
            Middleware(SecurityHeaders),  # outermost: CORS preflights and 500s get them too
            Middleware(
                CORSMiddleware,
                allow_origins=settings.backend_cors_origins,
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                expose_headers=["X-Request-ID", "Retry-After", "Location"],
                max_age=600,
            ),
            Middleware(RequestContext, templates=templates),
            Middleware(RequestBudget, budget_s=settings.backend_request_budget_s),
        ],
        exception_handlers={
            Problem: _problem,
            HTTPException: _http_exception,
            NotFound: _store_not_found,
            Conflict: _store_conflict,
            InvalidInput: _store_invalid,
            UnreadableAgent: _agent_unreadable,
            StoreUnavailable: _store_unavailable,
            LiveKitUnavailable: _livekit_unavailable,
            LiveKitRefused: _livekit_refused,
            RoomGone: _room_gone,
        },
        lifespan=lifespan,
    )
    # What no API route matches is the dashboard's (or the API's usual 404 under /api/).
    app.router.default = dashboard.Dashboard(
        dist, app.router.default, source_maps=settings.is_development
    )
    app.state.openapi = openapi_document(operations)
    return app


def _room_names(rooms: Rooms) -> Callable[[], Awaitable[list[str]]]:
    async def names() -> list[str]:
        return [room.name for room in await rooms.list_rooms()]

    return names


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# --- errors as problem documents ----------------------------------------------------------------


def _handler(
    make: Callable[[Any], Problem],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        return problem_response(request, make(exc))

    return handle


_problem = _handler(lambda exc: exc)
_http_exception = _handler(
    lambda exc: Problem(
        exc.status_code,
        {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error"),
        str(exc.detail),
        headers=exc.headers,
    )
)
_store_not_found = _handler(lambda exc: Problem(404, "not-found", str(exc), hint=exc.hint))
_store_conflict = _handler(
    lambda exc: Problem(409, "conflict", str(exc), current_version=exc.current_version)
)
_store_invalid = _handler(lambda exc: Problem(422, "invalid-value", str(exc)))
_agent_unreadable = _handler(
    lambda exc: Problem(
        409,
        "agent-unreadable",
        f"{exc}. It cannot be used or changed here; the operator can read it at "
        f"/api/agents/{exc.agent_id}/raw, archive it (PATCH) or delete it (DELETE) there",
        agent_id=str(exc.agent_id),
    )
)
_store_unavailable = _handler(
    lambda exc: Problem(
        503,
        "store-unavailable",
        "the database is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )
)
_livekit_unavailable = _handler(
    lambda exc: Problem(
        503,
        "livekit-unavailable",
        "LiveKit is unavailable; try again shortly",
        headers={"Retry-After": "5"},
    )
)
_livekit_refused = _handler(lambda exc: Problem(502, "livekit-refused", str(exc)))
_room_gone = _handler(lambda exc: Problem(404, "room-not-found", str(exc)))


# --- headers every response carries --------------------------------------------------------------

NO_FRAMING = "frame-ancestors 'none'"


class SecurityHeaders:
    """`X-Content-Type-Options: nosniff` on every response (the API's JSON and problems, health,
    the webhook's answer, the dashboard's files): a browser takes each as the type it is sent
    as, never guesses HTML or script from its bytes. And no page of this origin may be framed
    (clickjacking: the dashboard's buttons spawn calls and archive agents):
    `Content-Security-Policy: frame-ancestors 'none'`, merged into a policy a response already
    has rather than sent as a second one, and `X-Frame-Options: DENY` for browsers without
    CSP. A response that names its own frame-ancestors keeps them, and gets no X-Frame-Options
    (which would contradict them): a future public call page, embeddable on its agent's
    allowed origins, will set frame-ancestors to those origins itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                policy = headers.get("content-security-policy", "").strip().rstrip(";")
                if "frame-ancestors" not in policy.lower():
                    merged = f"{policy}; {NO_FRAMING}" if policy else NO_FRAMING
                    headers["Content-Security-Policy"] = merged
                    headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- request context: id, logs, metrics, last-resort 500 ---------------------------------------


class RequestContext:
    """Gives each request an id (echoed as X-Request-ID, in every log line and problem), counts
    and times it by route template, and turns an unexpected exception into a 500 problem."""

    def __init__(self, app: ASGIApp, templates: dict[Any, str]) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = False
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        with bind_log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("request_failed", method=scope["method"], path=scope["path"])
                if started:
                    raise
                response = problem_response(
                    Request(scope),
                    Problem(500, "internal", "an unexpected error; it has been logged"),
                )
                await response(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - began
                route = self.templates.get(scope.get("endpoint"), "unmatched")
                services: Services | None = getattr(scope.get("app"), "state", None) and getattr(
                    scope["app"].state, "services", None
                )
                if services is not None:
                    services.metrics.requests.labels(route, scope["method"], str(status)).inc()
                    services.metrics.request_seconds.labels(route).observe(elapsed)
                log.info(
                    "request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )


# A handler still running this long after its budget is spent is answered 503 (RequestBudget):
# room for a degraded answer after a call that used the whole budget (the rooms list, unnamed).
OVER_BUDGET_MARGIN_S = 1.0


class RequestBudget:
    """One budget per request (BACKEND_REQUEST_BUDGET_S) that every store and LiveKit call in it
    draws from (`shared.deadline`): a call gets the lesser of its own timeout and what is left,
    and fails at once when nothing is, so a hung dependency costs a request its budget — not a
    timeout per call — and its store or LiveKit error answers 503 with Retry-After.

    What waits without drawing from it (a lock, a DNS lookup, a body sent slowly) is stopped
    OVER_BUDGET_MARGIN_S after the budget with a 503 too; only a response already started is let
    finish (the dashboard's files stream to slow clients)."""

    def __init__(self, app: ASGIApp, budget_s: float) -> None:
        self.app = app
        self.budget_s = budget_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        backstop = asyncio.timeout(self.budget_s + OVER_BUDGET_MARGIN_S)
        started = False

        async def send_started(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                backstop.reschedule(None)
            await send(message)

        try:
            with deadline.budget(self.budget_s):
                async with backstop:
                    await self.app(scope, receive, send_started)
        except TimeoutError:
            if started or not backstop.expired():
                raise
            log.warning("request_over_budget", path=scope["path"], budget_s=self.budget_s)
            problem = Problem(
                503,
                "over-budget",
                f"the request did not finish within its {self.budget_s:g} s budget; try again",
                headers={"Retry-After": "5"},
            )
            await problem_response(Request(scope), problem)(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
