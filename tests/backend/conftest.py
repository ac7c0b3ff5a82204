"""The backend under test: `create_app` on the real test database (either store), the LiveKit
double and the real livekit-api client; callers with the operator token or Supabase-style user
tokens signed here."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import jwt
import pytest
from livekit import api
from livekit.protocol import models
from starlette.applications import Starlette

from backend.app import create_app
from shared.contracts import AgentConfig, AgentStatus, NewAgent
from shared.contracts.workers import WorkerBeat
from shared.naming import WorkerRole
from shared.rooms import NewRoom, Rooms
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.conftest import make_settings
from tests.support.livekit import LiveKitDouble
from tests.support.postgres import empty_platform_tables
from tests.support.postgrest import PostgrestDouble, make_jwt

ADMIN_TOKEN = "operator-token-for-tests-0123456789abcdef"
JWT_SECRET = "backend-test-jwt-secret-with-at-least-32-chars"
ALICE = UUID("a11ce000-0000-4000-8000-000000000001")
BOB = UUID("b0b00000-0000-4000-8000-000000000002")
SPAWNER = "spawner-test"
VOXIE = "voxie-test"


def user_token(
    user_id: UUID | str,
    *,
    secret: str = JWT_SECRET,
    expires_in: int = 600,
    audience: str = "authenticated",
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {
        "sub": str(user_id),
        "aud": audience,
        "role": "authenticated",
        "iat": now,
        "exp": now + expires_in,
        **claims,
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


OPERATOR = bearer(ADMIN_TOKEN)


def as_user(user_id: UUID, settings: Settings | None = None) -> dict[str, str]:
    """Headers of a Supabase user (with the project's issuer when SUPABASE_URL is set)."""
    claims: dict[str, Any] = {}
    if settings is not None and settings.supabase_url:
        claims["iss"] = f"{settings.supabase_url}/auth/v1"
    return bearer(user_token(user_id, **claims))


def backend_settings(livekit: LiveKitDouble | None, dsn: str | None, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "platform_env": "test",
        "database_url": dsn,
        "backend_admin_token": ADMIN_TOKEN,
        "supabase_jwt_secret": JWT_SECRET,
        "log_level": "warning",
    }
    if livekit is not None:
        base |= {
            "livekit_url": livekit.url,
            "livekit_api_key": livekit.api_key,
            "livekit_api_secret": livekit.api_secret,
        }
    return make_settings(**(base | values))


def assert_unframable_and_not_sniffed(response: httpx.Response) -> None:
    """The headers every answer of the app carries (backend.app.SecurityHeaders)."""
    what = f"{response.request.method} {response.request.url.path} {response.status_code}"
    assert response.headers.get_list("x-content-type-options") == ["nosniff"], what
    assert response.headers.get_list("content-security-policy") == ["frame-ancestors 'none'"], what
    assert response.headers.get_list("x-frame-options") == ["DENY"], what


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and an httpx client calling it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as client:
            yield client


def worker_beat(role: WorkerRole, *, available: bool = True, worker_id: str = "") -> WorkerBeat:
    """A heartbeat of a worker of the tests' deployment (`platform_env` test)."""
    return WorkerBeat(
        worker_id=worker_id or f"AW_{role.value}",
        agent_name=SPAWNER if role is WorkerRole.SPAWNER else VOXIE,
        role=role,
        deployment="test",
        active_sessions=0 if available else 16,
        max_sessions=16,
        available=available,
        draining=False,
    )


@pytest.fixture(autouse=True)
async def empty_tables(database_url: str) -> None:
    """An empty database, but for one live worker of each kind (their heartbeats last the
    test): the backend refuses rooms no worker could take (backend.workers)."""
    await empty_platform_tables(database_url)
    arranged = await PostgresStore.connect(database_url, max_size=1)
    try:
        for role in WorkerRole:
            await arranged.worker_heartbeat(worker_beat(role), ttl_s=3600)
    finally:
        await arranged.close()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresStore]:
    """A store of its own, to arrange rows and check what the API wrote."""
    opened = await PostgresStore.connect(database_url, max_size=2)
    yield opened
    await opened.close()


@pytest.fixture
def settings(livekit: LiveKitDouble, database_url: str) -> Settings:
    return backend_settings(livekit, database_url)


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return create_app(settings, reconcile=False)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as running:
        yield running


@pytest.fixture(scope="session")
def postgrest(database_url: str) -> Iterator[PostgrestDouble]:
    with PostgrestDouble(database_url, JWT_SECRET) as double:
        yield double


@pytest.fixture(params=["postgres", "supabase"])
def any_store_settings(
    request: pytest.FixtureRequest, livekit: LiveKitDouble, database_url: str
) -> Settings:
    """Settings selecting PostgresStore (DATABASE_URL) or SupabaseStore (the PostgREST double)."""
    if request.param == "postgres":
        return backend_settings(livekit, database_url)
    postgrest: PostgrestDouble = request.getfixturevalue("postgrest")
    return backend_settings(
        livekit,
        None,
        supabase_url=postgrest.url,
        supabase_service_role_key=make_jwt(JWT_SECRET, role="service_role"),
    )


AgentFactory = Callable[..., Any]


@pytest.fixture
def make_agent(store: PostgresStore) -> AgentFactory:
    async def make(
        owner: UUID = ALICE,
        *,
        slug: str | None = None,
        status: AgentStatus = AgentStatus.ACTIVE,
        **fields: Any,
    ) -> AgentConfig:
        return await store.create_agent(
            NewAgent(
                owner_id=owner,
                slug=slug or f"agent-{uuid4().hex[:8]}",
                name=fields.pop("name", "Clarence"),
                instructions=fields.pop("instructions", "You answer the phone for a dentist."),
                status=status,
                **fields,
            )
        )

    return make


class RecordingRooms:
    """Real room operations (delegated), keeping what was sent to rooms: the double forgets a
    room's data packets when the room is deleted, which is exactly when they matter."""

    def __init__(self, inner: Rooms) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str, bytes]] = []

    async def create(self, room: NewRoom) -> models.Room:
        return await self.inner.create(room)

    async def list_rooms(self) -> list[models.Room]:
        return await self.inner.list_rooms()

    async def participants(self, room: str) -> list[models.ParticipantInfo]:
        return await self.inner.participants(room)

    async def dispatches(self, room: str) -> list[api.AgentDispatch]:
        return await self.inner.dispatches(room)

    async def dispatch(self, room: str, agent_name: str, metadata: str) -> api.AgentDispatch:
        return await self.inner.dispatch(room, agent_name, metadata)

    async def remove_participant(self, room: str, identity: str) -> None:
        await self.inner.remove_participant(room, identity)

    async def send_data(self, room: str, topic: str, payload: bytes) -> None:
        await self.inner.send_data(room, topic, payload)
        self.sent.append((room, topic, payload))

    async def delete(self, room: str) -> None:
        await self.inner.delete(room)
