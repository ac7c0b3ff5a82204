"""One budget per request (issue 26, item 5): every store and LiveKit call a request makes draws
from BACKEND_REQUEST_BUDGET_S, so a dependency that hangs costs a route its budget — not one
timeout per call, nor asyncpg's wait to release a cancelled connection — and the route answers
503 with Retry-After (or its documented degraded answer) as soon as the budget is spent.

The dependency hangs for real: a TcpProxy in front of the test database (or the PostgREST
double) or the LiveKit double, frozen after a few first requests put live connections in the
client's pool; then every route is asked at once, so each meets the hung dependency itself
(see `all_answered`) and the whole table takes about one budget.

Timing: the budget is 1 s, and the store's and LiveKit's own timeouts are 3 s, three times that,
so a route that does not draw from the budget takes 3 s (one call), 6 s (two in a row, or
asyncpg's release wait) or more. Each route must answer within 2 s: twice the budget — a whole
second of slack for a busy 2-core machine, and still a second short of the best the bug can do.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx
import pytest
from livekit import api
from livekit.protocol import models, webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from backend.app import OVER_BUDGET_MARGIN_S, RequestBudget, create_app
from backend.problems import MEDIA_TYPE
from backend.routes.system import READY_TIMEOUT_S
from shared import deadline
from shared.contracts import NewCallSession
from shared.secret_box import new_key
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.backend.conftest import (
    ALICE,
    JWT_SECRET,
    OPERATOR,
    AgentFactory,
    as_user,
    backend_settings,
    serving,
)
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.webhooks import encode_event, signed_headers
from tests.support.postgrest import PostgrestDouble, make_jwt
from tests.support.tcp_proxy import TcpProxy, target_of, via

pytestmark = pytest.mark.timeout(90)

BUDGET_S = 1.0
OWN_TIMEOUT_S = 3 * BUDGET_S
# Twice the budget: see the module docstring for why this margin is safe both ways.
WITHIN_S = 2 * BUDGET_S


@dataclass
class Case:
    """One request, and what it must answer while the dependency hangs."""

    name: str
    method: str
    path: str
    status: int
    problem: str | None = None  # the 503's problem type
    json: Any = None
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    user: bool = False  # as ALICE rather than the operator


@dataclass
class Answer:
    case: Case
    response: httpx.Response
    elapsed_s: float

    def problems(self) -> list[str]:
        found: list[str] = []
        response, case = self.response, self.case
        if response.status_code != case.status:
            found.append(f"{response.status_code}, not {case.status}: {response.text[:200]}")
        if case.status == 503:
            if response.headers.get("content-type") != MEDIA_TYPE:
                found.append(f"content-type {response.headers.get('content-type')}")
            if not response.headers.get("retry-after"):
                found.append("no Retry-After")
            if case.problem and not response.json().get("type", "").endswith(case.problem):
                found.append(f"problem {response.json().get('type')}, not {case.problem}")
        if self.elapsed_s >= WITHIN_S:
            found.append(f"answered after {self.elapsed_s:.2f} s")
        return found


async def all_answered(
    cases: list[Case],
    target: tuple[str, int] | Any,
    settings_through: Callable[[TcpProxy], Settings],
    warm: str,
) -> dict[str, httpx.Response]:
    """Every case at once against one app whose dependency (`target`, behind a proxy) hangs
    after a few first requests (`warm`) put live connections in the client's pool.

    All are asked together so each meets the hung dependency itself: the breaker opens only
    when the first calls time out, a budget later, and by then every case made its first call.
    The pool has room for all of them, so none waits for another's connection instead."""
    async with TcpProxy(target) as proxy:
        settings = settings_through(proxy)
        async with serving(create_app(settings, reconcile=False)) as client:
            warmed = await asyncio.gather(*(client.get(warm, headers=OPERATOR) for _ in range(4)))
            assert [w.status_code for w in warmed] == [200] * 4, warmed[0].text
            proxy.freeze()

            async def ask(case: Case) -> Answer:
                headers = {**(as_user(ALICE, settings) if case.user else OPERATOR), **case.headers}
                began = time.monotonic()
                response = await client.request(
                    case.method,
                    case.path,
                    json=case.json,
                    content=case.content,
                    headers=headers,
                    timeout=30,
                )
                return Answer(case, response, time.monotonic() - began)

            answers = await asyncio.gather(*(ask(case) for case in cases))
            proxy.cut()  # the pool's connections close at once, not into a hung server
    table = "\n".join(
        f"  {a.case.name:<34} {a.response.status_code}  {a.elapsed_s:5.2f} s" for a in answers
    )
    print(f"\n{table}")
    failing = {a.case.name: a.problems() for a in answers if a.problems()}
    assert not failing, f"{failing}\n{table}"
    return {a.case.name: a.response for a in answers}


def finished_event(room: str) -> str:
    event = webhook.WebhookEvent(event="room_finished", id=f"EV_{uuid4().hex[:12]}")
    event.room.CopyFrom(models.Room(name=room, sid="RM_deadline"))
    return encode_event(event)


def budgeted(livekit: LiveKitDouble, dsn: str | None, **values: Any) -> Settings:
    return backend_settings(
        livekit,
        dsn,
        backend_request_budget_s=BUDGET_S,
        store_timeout_s=OWN_TIMEOUT_S,
        livekit_api_timeout_s=OWN_TIMEOUT_S,
        secrets_keys=[new_key()],
        db_pool_max_size=64,  # a connection for every case at once (see all_answered)
        **values,
    )


# --- a database that hangs ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["postgres", "supabase"])
async def test_every_store_route_answers_within_its_budget_while_the_database_hangs(
    kind: str,
    livekit: LiveKitDouble,
    database_url: str,
    store: PostgresStore,
    make_agent: AgentFactory,
    request: pytest.FixtureRequest,
) -> None:
    agent = await make_agent(ALICE)
    session = await store.start_session(
        NewCallSession(
            agent_id=agent.id, room_name=f"agent-{agent.id}-sessions1", kind="test", deployment="t"
        )
    )
    rooms = {name: f"agent-{agent.id}-{name}x0001" for name in ("listed", "closed", "finished")}
    for room in rooms.values():
        await livekit.create_room(room)
    body = finished_event(rooms["finished"])
    signed = signed_headers(body, livekit.api_key, livekit.api_secret)
    a = f"/api/agents/{agent.id}"
    down = "store-unavailable"
    cases = [
        Case("agents list", "GET", "/api/agents", 503, down),
        Case("agents list (user)", "GET", "/api/agents", 503, down, user=True),
        Case("agent get", "GET", a, 503, down),
        Case("agent by slug (user)", "GET", f"/api/agents/{agent.slug}", 503, down, user=True),
        Case("agent create", "POST", "/api/agents", 503, down, json=new_agent_body()),
        Case("agent patch", "PATCH", a, 503, down, json={"version": 1, "voice": "ash"}),
        Case("agent archive", "DELETE", a, 503, down),
        Case("agent raw", "GET", f"{a}/raw", 503, down),
        Case("versions list", "GET", f"{a}/versions", 503, down),
        Case("version publish", "POST", f"{a}/versions", 503, down, json={"note": "n"}),
        Case("version get", "GET", f"{a}/versions/1", 503, down),
        Case("version diff", "GET", f"{a}/versions/1/diff/draft", 503, down),
        Case("rollback", "POST", f"{a}/rollback", 503, down, json={"version": 1}),
        Case("spawn", "POST", f"{a}/spawn", 503, down),
        Case("analytics", "GET", f"{a}/analytics", 503, down),
        Case("sessions list", "GET", "/api/sessions", 503, down),
        Case("session get", "GET", f"/api/sessions/{session.id}", 503, down),
        Case("secrets list", "GET", "/api/secrets", 503, down, user=True),
        Case(
            "secret create",
            "POST",
            "/api/secrets",
            503,
            down,
            json={"name": "CRM_TOKEN", "value": "v-123", "hosts": ["crm.example.com"]},
            user=True,
        ),
        Case("secret delete", "DELETE", "/api/secrets/CRM_TOKEN", 503, down, user=True),
        Case("egress get", "GET", f"/api/owners/{ALICE}/egress", 503, down),
        Case("egress put", "PUT", f"/api/owners/{ALICE}/egress", 503, down, json={"allow": []}),
        Case("stats (user)", "GET", "/api/stats", 503, down, user=True),
        Case("gc", "POST", "/api/gc", 503, down),
        Case(
            "webhook room_finished",
            "POST",
            "/api/livekit/webhook",
            503,
            down,
            content=body,
            headers=signed,
        ),
        Case("readyz", "GET", "/readyz", 503, "not-ready"),
        # The documented answers without a database: LiveKit's rooms, their agents unnamed; a
        # room closed (its slot expires by itself); a Voxie session, which reads nothing.
        Case("rooms list", "GET", "/api/rooms", 200),
        Case("room close", "POST", f"/api/rooms/{rooms['closed']}/close", 200),
        Case("stats", "GET", "/api/stats", 200),
        Case("voxie session", "POST", "/api/voxie/sessions", 201, json={"owner_id": str(ALICE)}),
    ]
    if kind == "postgres":
        target = target_of(database_url)

        def settings_through(proxy: TcpProxy) -> Settings:
            return budgeted(livekit, via(database_url, proxy))
    else:
        postgrest: PostgrestDouble = request.getfixturevalue("postgrest")
        target = target_of(postgrest.url)

        def settings_through(proxy: TcpProxy) -> Settings:
            return budgeted(
                livekit,
                None,
                supabase_url=via(postgrest.url, proxy),
                supabase_service_role_key=make_jwt(JWT_SECRET, role="service_role"),
            )

    answers = await all_answered(cases, target, settings_through, "/api/agents")
    listed = {room["name"]: room for room in answers["rooms list"].json()["items"]}
    assert listed[rooms["listed"]]["agent_id"] == str(agent.id)
    assert listed[rooms["listed"]]["agent_name"] is None  # unnamed: the names are in the store
    # The room was closed in LiveKit all the same.
    assert rooms["closed"] not in {r.name for r in await livekit_rooms(livekit)}


def new_agent_body() -> dict[str, Any]:
    return {
        "owner_id": str(ALICE),
        "slug": "clarence-coherence",
        "name": "Clarence Coherence",
        "instructions": "You are Clarence, the front desk of Coherence Dental.",
    }


async def livekit_rooms(livekit: LiveKitDouble) -> list[models.Room]:
    async with livekit.api() as client:
        return list((await client.room.list_rooms(api.ListRoomsRequest())).rooms)


# --- a LiveKit that hangs -----------------------------------------------------------------------


async def test_every_livekit_route_answers_within_its_budget_while_livekit_hangs(
    livekit: LiveKitDouble, database_url: str, make_agent: AgentFactory
) -> None:
    agent = await make_agent(ALICE)
    room = f"agent-{agent.id}-closedx0001"
    await livekit.create_room(room)
    down = "livekit-unavailable"
    cases = [
        Case("spawn", "POST", f"/api/agents/{agent.id}/spawn", 503, down),
        Case(
            "voxie session", "POST", "/api/voxie/sessions", 503, down, json={"owner_id": str(ALICE)}
        ),
        Case("rooms list", "GET", "/api/rooms", 503, down),
        Case("rooms list (user)", "GET", "/api/rooms", 503, down, user=True),
        Case("stats", "GET", "/api/stats", 503, down),
        Case("room close", "POST", f"/api/rooms/{room}/close", 503, down),
        Case("gc", "POST", "/api/gc", 503, down),
        Case("readyz", "GET", "/readyz", 503, "not-ready"),
        # What needs no LiveKit is not held up by it.
        Case("agents list", "GET", "/api/agents", 200),
    ]
    port = int(livekit.url.rsplit(":", 1)[1])

    def settings_through(proxy: TcpProxy) -> Settings:
        return budgeted(livekit, database_url, livekit_url=f"http://127.0.0.1:{proxy.port}")

    await all_answered(cases, ("127.0.0.1", port), settings_through, "/api/rooms")


# --- /readyz: a budget of its own -------------------------------------------------------------


async def test_readyz_answers_within_its_own_budget_with_both_dependencies_hung(
    livekit: LiveKitDouble, database_url: str
) -> None:
    """The request budget and both timeouts at their 5 s defaults: the probe still answers
    within READY_TIMEOUT_S (1.5 s), asking the store and LiveKit side by side. With both hung
    it took 8 s before (1.5 s each, one after the other, and 5 s for the cancelled ping's
    release); 3 s (twice its budget) leaves a busy machine 1.5 s of slack."""
    port = int(livekit.url.rsplit(":", 1)[1])
    async with (
        TcpProxy(target_of(database_url)) as db,
        TcpProxy(("127.0.0.1", port)) as lk,
    ):
        settings = backend_settings(
            livekit, via(database_url, db), livekit_url=f"http://127.0.0.1:{lk.port}"
        )
        assert settings.backend_request_budget_s == settings.store_timeout_s == 5
        async with serving(create_app(settings, reconcile=False)) as client:
            assert (await client.get("/readyz")).status_code == 200
            db.freeze()
            lk.freeze()
            began = time.monotonic()
            ready = await client.get("/readyz")
            elapsed = time.monotonic() - began
            db.cut()  # the clients' connections close at once, not into hung servers
            lk.cut()
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "store": "unavailable: StoreTimedOut",
        "livekit": "unavailable: LiveKitUnavailable",
    }
    assert elapsed < 2 * READY_TIMEOUT_S, f"answered after {elapsed:.2f} s"


# --- the backstop: what waits without drawing from the budget ---------------------------------


@contextlib.asynccontextmanager
async def budget_app(budget_s: float, *routes: Route) -> AsyncIterator[httpx.AsyncClient]:
    app = RequestBudget(Starlette(routes=list(routes)), budget_s=budget_s)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://backend") as client:
        yield client


async def test_a_handler_that_waits_past_its_budget_on_something_else_is_answered_503() -> None:
    """A wait that draws from no budget (a lock, a DNS lookup): a 503 shortly after the budget,
    rather than never. Budget 0.5 s, so the 503 comes at 1.5 s; without the backstop there would
    be no answer at all, so 3 s is a bound with room to spare."""
    seen: list[float | None] = []

    async def stuck(_: Request) -> Response:
        seen.append(deadline.time_left())
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with budget_app(0.5, Route("/stuck", stuck)) as client:
        began = time.monotonic()
        response = await client.get("/stuck")
        elapsed = time.monotonic() - began
    assert response.status_code == 503
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.headers["retry-after"]
    assert response.json()["type"].endswith("over-budget")
    assert seen and seen[0] is not None and 0 < seen[0] <= 0.5  # the handler had the budget
    assert elapsed < 3.0, f"answered after {elapsed:.2f} s"


async def test_a_response_already_started_is_let_finish() -> None:
    """The dashboard's files stream to slow clients: once the answer has started, the budget
    no longer cuts it (the body's second half comes after budget + margin here)."""
    budget_s = 0.1

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first half, "
        await asyncio.sleep(budget_s + OVER_BUDGET_MARGIN_S + 0.3)
        yield b"second half"

    async def slow(_: Request) -> Response:
        return StreamingResponse(chunks(), media_type="text/plain")

    async def quick(_: Request) -> Response:
        return JSONResponse({"left": deadline.time_left()})

    async with budget_app(budget_s, Route("/slow", slow), Route("/quick", quick)) as client:
        response = await client.get("/slow")
        assert (response.status_code, response.text) == (200, "first half, second half")
        left = (await client.get("/quick")).json()["left"]  # each request its own budget
        assert 0 < left <= budget_s
    assert deadline.time_left() is None  # and none outside a request
