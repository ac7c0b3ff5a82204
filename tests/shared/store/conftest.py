"""Both stores over the same real database: PostgresStore directly, SupabaseStore through the
real supabase-py client and the PostgREST-compatible double."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from uuid import UUID

import asyncpg
import pytest
from supabase import AsyncClient, acreate_client

from shared.store import AgentStore
from shared.store.postgres import PostgresStore
from shared.store.supabase import SupabaseStore
from tests.support.postgres import empty_platform_tables
from tests.support.postgrest import PostgrestDouble, make_jwt

JWT_SECRET = "test-jwt-secret-with-at-least-32-characters"


@pytest.fixture(scope="session")
async def postgres_store(database_url: str) -> AsyncIterator[PostgresStore]:
    store = await PostgresStore.connect(database_url)
    yield store
    await store.close()


@pytest.fixture(scope="session")
def postgrest(database_url: str) -> Iterator[PostgrestDouble]:
    double = PostgrestDouble(database_url, JWT_SECRET)
    double.start()
    yield double
    double.stop()


@pytest.fixture(scope="session")
def service_role_key() -> str:
    return make_jwt(JWT_SECRET, role="service_role")


@pytest.fixture(scope="session")
async def supabase_store(
    postgrest: PostgrestDouble, service_role_key: str
) -> AsyncIterator[SupabaseStore]:
    store = await SupabaseStore.connect(postgrest.url, service_role_key)
    yield store
    await store.close()


@pytest.fixture(params=["postgres", "supabase"])
def store(request: pytest.FixtureRequest) -> AgentStore:
    """The contract suite runs once per implementation."""
    chosen: AgentStore = request.getfixturevalue(f"{request.param}_store")
    return chosen


@pytest.fixture(autouse=True)
async def empty_tables(database_url: str) -> None:
    await empty_platform_tables(database_url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection, to check what was (not) written behind the store's back."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


Client = Callable[[UUID | None], Awaitable[AsyncClient]]


@pytest.fixture
async def client_for(postgrest: PostgrestDouble) -> AsyncIterator[Client]:
    """A supabase client authenticated as the given user (None: anonymous)."""
    clients: list[AsyncClient] = []

    async def make(user: UUID | None) -> AsyncClient:
        key = (
            make_jwt(JWT_SECRET, role="authenticated", sub=str(user))
            if user
            else make_jwt(JWT_SECRET, role="anon")
        )
        client = await acreate_client(postgrest.url, key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.postgrest.aclose()
