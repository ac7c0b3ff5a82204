"""Fixtures for the spawner: a real store, stored agents, a business API for HTTP tools, a
spawned call in a scripted room (`spawned_call`), and real `python -m spawner start` processes
against the LiveKit double (test_recording.py: a job whose config cannot load while the store is
down). Rooms agents join are tested on the real server (tests/e2e/), which also uses
`new_agent`, `dispatch_metadata` and `create_agent_room`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from livekit import api
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from shared.contracts import AgentConfig, DispatchMetadata, NewAgent, SessionKind
from shared.contracts.room_messages import SPAWNER_ERROR
from shared.naming import agent_room_name
from shared.runtime import Runtime
from shared.secret_box import new_key
from shared.settings import Settings
from shared.store import AgentStore, NotFound
from shared.store.postgres import PostgresStore
from shared.tool_access import ToolAccess
from spawner import factory
from spawner.call import SpawnedCall, tool_context
from spawner.tools import ToolContext
from tests.conftest import make_settings
from tests.support.call_room import ScriptedRoom
from tests.support.livekit import JobView, LiveKitDouble
from tests.support.processes import ServiceProcess
from tests.support.scripted_llm import ScriptedLLM
from tests.support.serving import ThreadedServer

OWNER = UUID("9b1d2c3e-0000-4000-8000-00000000a11c")

SECRET = "clinic-token-123"
# Seals the owners' secrets these tests store (shared.secret_box).
SECRETS_KEY = new_key()


def tool_settings(**values: Any) -> Settings:
    return make_settings(openai_api_key="sk-test", secrets_keys=[SECRETS_KEY], **values)


async def granted(
    store: AgentStore,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    allow: Sequence[str],
    owner: UUID = OWNER,
    hosts: Sequence[str] = ("127.0.0.1",),
) -> ToolContext:
    """A call's tool context for `owner`, after storing what the owner has: the egress
    exemptions `allow` and the clinic's secret `CLINIC_API_TOKEN`, bound to `hosts`."""
    await store.set_egress(owner, list(allow), updated_by="operator")
    access = ToolAccess(store, settings)
    with contextlib.suppress(NotFound):
        await store.delete_secret(owner, "CLINIC_API_TOKEN")
    sealed = access.box.seal(owner, "CLINIC_API_TOKEN", f"Bearer {SECRET}")
    await store.create_secret(owner, "CLINIC_API_TOKEN", list(hosts), sealed)
    return tool_context(settings, store, owner, http)


# What the clinic's `/capture` received (its headers), for tests that prove nothing was sent.
CAPTURED: list[dict[str, str]] = []


def clinic_app() -> Starlette:
    async def capture(request: Request) -> Response:
        CAPTURED.append(dict(request.headers))
        return JSONResponse({"captured": True})

    async def bookings(request: Request) -> Response:
        body = await request.json()
        return JSONResponse(
            {"booked": body["start"], "auth": request.headers.get("authorization")}, 201
        )

    async def slots(request: Request) -> Response:
        return JSONResponse({"day": request.query_params["day"], "slots": ["10:00", "11:30"]})

    async def big(_: Request) -> Response:
        return PlainTextResponse("x" * 200_000)

    async def slow(_: Request) -> Response:
        await asyncio.sleep(3)
        return PlainTextResponse("late")

    async def failing(_: Request) -> Response:
        return PlainTextResponse("calendar offline", 503)

    async def to_metadata(_: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", 302)

    async def to_slots(request: Request) -> Response:
        return RedirectResponse(f"/slots?day={request.query_params['day']}", 302)

    async def echo_headers(request: Request) -> Response:
        return JSONResponse({"auth": request.headers.get("authorization")})

    return Starlette(
        routes=[
            Route("/capture", capture, methods=["GET", "POST"]),
            Route("/bookings", bookings, methods=["POST"]),
            Route("/slots", slots),
            Route("/big", big),
            Route("/slow", slow),
            Route("/failing", failing),
            Route("/to-metadata", to_metadata),
            Route("/to-slots", to_slots),
            Route("/headers", echo_headers),
        ]
    )


@pytest.fixture(scope="session")
def clinic() -> Iterator[str]:
    """A small business API on 127.0.0.1 for HTTP tools to call."""
    server = ThreadedServer(clinic_app(), name="clinic")
    yield server.start()
    server.stop()


def new_agent(**overrides: Any) -> NewAgent:
    values: dict[str, Any] = {
        "owner_id": OWNER,
        "slug": f"clarence-{uuid.uuid4().hex[:8]}",
        "name": "Clarence Coherence",
        "instructions": "You are Clarence, the front desk of Coherence Dental.",
        "greeting": "Hi, this is Clarence from Coherence Dental. How can I help?",
        "voice": "cedar",
        "status": "active",
        "tools": [{"type": "builtin", "name": "end_call"}],
    }
    return NewAgent.model_validate({**values, **overrides})


@pytest.fixture
async def agent(store: PostgresStore) -> AgentConfig:
    return await store.create_agent(new_agent())


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection, to read what the spawner wrote."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


class SpawnerProcess(ServiceProcess):
    """A real `python -m spawner start`; its JSON log lines are its observable events."""

    def __init__(
        self,
        livekit: LiveKitDouble,
        directory: Path,
        *,
        label: str,
        database_url: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.spool_dir = directory / f"{label}-spool"
        values = {
            **livekit.env(),
            "PLATFORM_ENV": "test",
            "DATABASE_URL": database_url,
            "WORKER_HTTP_PORT": "0",
            "WORKER_EXECUTOR": "thread",
            "WORKER_IDLE_PROCESSES": "4",
            # The test machine's CPU is everybody's: capacity counts sessions only.
            "WORKER_LOAD_CPU": "false",
            "SPOOL_DIR": str(self.spool_dir),
            "OPENAI_API_KEY": "sk-test-not-used",
            "LOG_FORMAT": "json",
            **(env or {}),
        }
        super().__init__(["-m", "spawner", "start"], directory, label=label, env=values)


def dispatch_metadata(agent_id: UUID | None, deployment: str = "test", **extra: Any) -> str:
    return DispatchMetadata(
        agent_id=agent_id,
        deployment=deployment,
        kind=SessionKind.TEST,
        requested_by="user:tester",
        **extra,
    ).to_json()


async def create_agent_room(
    client: api.LiveKitAPI,
    agent_name: str,
    agent_id: UUID,
    *,
    deployment: str = "test",
    name: str | None = None,
    metadata: str | None = None,
) -> str:
    """A room as the backend creates it: room metadata and exactly one dispatch."""
    room = name or agent_room_name(agent_id)
    await client.room.create_room(
        api.CreateRoomRequest(
            name=room,
            metadata=json.dumps({"agent_id": str(agent_id)}),
            agents=[
                api.RoomAgentDispatch(
                    agent_name=agent_name,
                    metadata=metadata
                    if metadata is not None
                    else dispatch_metadata(agent_id, deployment),
                )
            ],
        )
    )
    return room


async def ended(double: LiveKitDouble, room: str) -> JobView:
    async def done() -> bool:
        jobs = await double.jobs(room)
        return bool(jobs) and jobs[0].status_name in ("JS_SUCCESS", "JS_FAILED")

    await double.wait_for(done, within=30, what=f"the job of {room} to end")
    [job] = await double.jobs(room)
    return job


async def spawner_error(double: LiveKitDouble, room: str) -> dict[str, str]:
    async def told() -> bool:
        return bool(await double.data_packets(room))

    await double.wait_for(told, within=30, what=f"a spawner.error in {room}")
    [(topic, payload)] = await double.data_packets(room)
    assert topic == SPAWNER_ERROR
    message: dict[str, str] = json.loads(payload)
    return message


async def spawned_call(
    room: ScriptedRoom,
    runtime: Runtime,
    settings: Settings,
    store: PostgresStore,
    *,
    model: ScriptedLLM | None = None,
    draining: Callable[[], bool] = lambda: False,
) -> SpawnedCall:
    """A test call of a stored agent (it greets by `say`: no model turn)."""
    agent = await store.create_agent(new_agent())
    metadata = DispatchMetadata(
        agent_id=agent.id,
        deployment=settings.platform_env,
        kind=SessionKind.TEST,
        requested_by="user:tester",
    )
    scripted = model or ScriptedLLM([])
    return SpawnedCall(
        room,
        runtime,
        settings,
        metadata,
        draining=draining,
        models=lambda _: factory.Models(scripted),
        summary_model=lambda: ScriptedLLM([]),
    )
