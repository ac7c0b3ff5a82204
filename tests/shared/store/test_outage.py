"""A database or Supabase outage surfaces as StoreUnavailable: no raw client error, no hang."""

from __future__ import annotations

import socket
from uuid import uuid4

import asyncpg
import httpx
import pytest

from shared.contracts import NewCallSession
from shared.store import StoreUnavailable
from shared.store.postgres import PostgresStore
from shared.store.supabase import SupabaseStore
from tests.shared.store.test_contract import new_agent
from tests.support.postgrest import PostgrestDouble


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_postgres_store_comes_up_while_the_database_is_down() -> None:
    store = await PostgresStore.connect(
        f"postgresql://postgres@127.0.0.1:{closed_port()}/voxie", attempts=2
    )
    try:
        with pytest.raises(StoreUnavailable, match="unreachable") as down:
            await store.ping()
        assert isinstance(down.value.__cause__, OSError)  # the cause stays for the logs
        with pytest.raises(StoreUnavailable):
            await store.get_agent(uuid4())
        with pytest.raises(StoreUnavailable):
            await store.create_agent(new_agent())
    finally:
        await store.close()


async def test_dropped_connections_are_replaced_transparently(database_url: str) -> None:
    store = await PostgresStore.connect(database_url, attempts=3)
    try:
        await store.ping()  # the pool now holds an idle connection
        # Kill it server-side, as a failover or a pooler restart would.
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where datname = current_database() and pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        await store.ping()
        assert (await store.list_agents(None)).total >= 0
    finally:
        await store.close()


async def test_supabase_store_outage_is_store_unavailable(
    postgrest: PostgrestDouble, service_role_key: str
) -> None:
    store = await SupabaseStore.connect(postgrest.url, service_role_key, attempts=1)
    try:
        with postgrest.unavailable():
            with pytest.raises(StoreUnavailable):
                await store.create_agent(new_agent())
            with pytest.raises(StoreUnavailable):
                await store.start_session(
                    NewCallSession(agent_id=None, room_name="r", kind="test", deployment="dev")
                )
            with pytest.raises(StoreUnavailable):
                await store.acquire_lease("reconciler", "a", 30)
        await store.ping()  # and back
    finally:
        await store.close()


async def test_supabase_store_unreachable_is_store_unavailable(service_role_key: str) -> None:
    store = await SupabaseStore.connect(
        f"http://127.0.0.1:{closed_port()}", service_role_key, attempts=2, client_retry=False
    )
    try:
        with pytest.raises(StoreUnavailable, match="unreachable") as down:
            await store.get_agent(uuid4())
        assert isinstance(down.value.__cause__, httpx.ConnectError)
        with pytest.raises(StoreUnavailable):
            await store.create_agent(new_agent())
    finally:
        await store.close()
