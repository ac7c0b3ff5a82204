"""A database or Supabase outage surfaces as StoreUnavailable: no raw client error, no hang; a
database that never answers costs one deadline, then calls fail fast."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import httpx
import pytest

from shared import deadline
from shared.contracts import NewCallSession
from shared.store import AgentStore, StoreUnavailable
from shared.store.errors import StoreTimedOut
from shared.store.guard import StoreGuard
from shared.store.postgres import PostgresStore
from shared.store.supabase import SupabaseStore
from tests.shared.store.test_contract import new_agent
from tests.support.postgrest import PostgrestDouble
from tests.support.tcp_proxy import BlackHole, TcpProxy, target_of, via
from voxiectl.livekit_local import free_port


@pytest.mark.parametrize("kind", ["postgres", "supabase"])
async def test_ping_answers_only_while_the_database_does(
    kind: str, database_url: str, postgrest: PostgrestDouble, service_role_key: str
) -> None:
    """What the readiness checks rely on: a ping that answered without asking the database
    would report a store that is down as up."""
    server = database_url if kind == "postgres" else postgrest.url
    async with TcpProxy(target_of(server)) as proxy:
        store: AgentStore = (
            await PostgresStore.connect(via(database_url, proxy), attempts=1)
            if kind == "postgres"
            else await SupabaseStore.connect(
                via(postgrest.url, proxy), service_role_key, attempts=1, client_retry=False
            )
        )
        try:
            await store.ping()
            proxy.cut()
            with pytest.raises(StoreUnavailable):
                await store.ping()
        finally:
            await store.close()


async def test_postgres_store_comes_up_while_the_database_is_down() -> None:
    store = await PostgresStore.connect(
        f"postgresql://postgres@127.0.0.1:{free_port()}/voxie", attempts=2
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
        f"http://127.0.0.1:{free_port()}", service_role_key, attempts=2, client_retry=False
    )
    try:
        with pytest.raises(StoreUnavailable, match="unreachable") as down:
            await store.get_agent(uuid4())
        assert isinstance(down.value.__cause__, httpx.ConnectError)
        with pytest.raises(StoreUnavailable):
            await store.create_agent(new_agent())
    finally:
        await store.close()


# --- a database that accepts connections and never answers -----------------------------------


async def frozen_store(kind: str, hole: BlackHole, service_role_key: str) -> AgentStore:
    """A store of `kind` whose database is the black hole: each round trip may take 1 s."""
    if kind == "postgres":
        return await PostgresStore.connect(
            f"postgresql://postgres@127.0.0.1:{hole.port}/voxie", attempts=3, timeout_s=1
        )
    return await SupabaseStore.connect(hole.url, service_role_key, attempts=3, timeout_s=1)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["postgres", "supabase"])
async def test_a_frozen_database_costs_one_deadline_once_then_calls_fail_fast(
    kind: str, service_role_key: str
) -> None:
    async with BlackHole() as hole:
        store = await frozen_store(kind, hole, service_role_key)
        try:
            began = time.monotonic()
            with pytest.raises(StoreTimedOut):
                await store.get_agent(uuid4())
            first_s = time.monotonic() - began
            # One connection: a command that timed out is not tried again.
            assert hole.accepted == 1
            with pytest.raises(StoreTimedOut):
                await store.ping()
            reached = hole.accepted
            # The breaker is open: these fail at once, without touching the database.
            began = time.monotonic()
            for _ in range(20):
                with pytest.raises(StoreUnavailable):
                    await store.list_agents(None)
            fast_s = time.monotonic() - began
            assert hole.accepted == reached
            print(f"{kind}: first call {first_s:.2f} s, then 20 calls in {fast_s:.3f} s")
        finally:
            await store.close()


# --- a database that hangs with the pool's connections in it (issue 26) -------------------------


async def proxied_store(
    kind: str, proxy: TcpProxy, database_url: str, postgrest_url: str, service_role_key: str
) -> AgentStore:
    """A store of `kind` reaching its server through `proxy`; each round trip may take 3 s."""
    if kind == "postgres":
        return await PostgresStore.connect(via(database_url, proxy), attempts=3, timeout_s=3)
    return await SupabaseStore.connect(
        via(postgrest_url, proxy), service_role_key, attempts=3, timeout_s=3
    )


@contextlib.asynccontextmanager
async def cut_after(seconds: float, by: str) -> AsyncIterator[None]:
    """A call cut short after `seconds` by its caller's own wait (as /readyz did: TimeoutError)
    or by the budget it draws from (shared.deadline: the store's own StoreTimedOut)."""
    if by == "caller":
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(seconds):
                yield
    else:
        with pytest.raises(StoreTimedOut), deadline.budget(seconds):
            yield


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["postgres", "supabase"])
@pytest.mark.parametrize("call", ["ping", "list_agents"])  # one command; one in a transaction
@pytest.mark.parametrize("by", ["caller", "budget"])
async def test_a_call_cut_short_against_a_hung_database_ends_at_once_and_drops_its_connection(
    kind: str,
    call: str,
    by: str,
    database_url: str,
    postgrest: PostgrestDouble,
    service_role_key: str,
) -> None:
    """The in-process reproduction of issue 26: a command cancelled on a live connection to a
    server that hangs. asyncpg's release of such a connection waits for the server to confirm
    the cancel and then resets it, up to the acquire timeout (the store's 3 s here): a caller
    that gave the call 1 s got its answer after 3 s. The connection is terminated now."""
    target = target_of(database_url) if kind == "postgres" else target_of(postgrest.url)
    async with TcpProxy(target) as proxy:
        store = await proxied_store(kind, proxy, database_url, postgrest.url, service_role_key)
        try:
            await store.ping()  # a live connection in the pool (or httpx's), as after any call
            proxy.freeze()
            began = time.monotonic()
            async with cut_after(1, by):
                await getattr(store, call)(*(() if call == "ping" else (None,)))
            elapsed = time.monotonic() - began
            # 1 s plus what cancelling takes; the bug made it 3 s, so 2 s leaves a busy machine
            # a whole second of slack and still cannot pass with the release's wait in it.
            assert elapsed < 2.0, f"answered after {elapsed:.2f} s"
            # The client closed its connection(s) rather than leave them half-used in a pool.
            for _ in range(500):
                if proxy.closed_by_client >= 1:
                    break
                await asyncio.sleep(0.01)
            assert proxy.closed_by_client >= 1
            print(f"{kind} {call}: cut after 1 s by the {by}, answered in {elapsed:.2f} s")

            proxy.restore()  # and the store works again at once, on new connections
            await store.ping()
        finally:
            await store.close()


async def test_a_call_gets_what_is_left_of_its_budget_and_none_once_it_is_spent() -> None:
    guard = StoreGuard(3600, failures_to_open=2)
    calls = 0

    async def hang() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(3600)

    # A budget spent: refused without asking the database, and the database is not blamed.
    for _ in range(3):
        with pytest.raises(StoreTimedOut, match="budget is spent"), deadline.budget(0):
            await guard.run(hang)
    assert calls == 0 and not guard.is_open
    # Cut short by a budget, though its own deadline is an hour: it waited and got nothing,
    # which counts like any timeout.
    for _ in range(2):
        with pytest.raises(StoreTimedOut, match="did not answer"), deadline.budget(0.05):
            await guard.run(hang)
    assert calls == 2 and guard.is_open


async def test_the_breaker_probes_once_and_closes_when_the_database_answers() -> None:
    clock = [0.0]
    guard = StoreGuard(0.05, failures_to_open=2, open_s=3.0, clock=lambda: clock[0])
    calls = 0

    async def hang() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(3600)

    async def answer() -> str:
        nonlocal calls
        calls += 1
        return "ok"

    for _ in range(2):
        with pytest.raises(StoreTimedOut):
            await guard.run(hang)
    assert guard.is_open
    with pytest.raises(StoreUnavailable):
        await guard.run(answer)  # still open: not even tried
    assert calls == 2
    clock[0] = 3.5
    # One probe at a time once the pause is over; the others still fail at once.
    probe = asyncio.ensure_future(guard.run(hang))
    await asyncio.sleep(0)
    with pytest.raises(StoreUnavailable):
        await guard.run(answer)
    with pytest.raises(StoreTimedOut):
        await probe
    assert guard.is_open and calls == 3
    clock[0] = 7.0
    assert await guard.run(answer) == "ok"  # the probe answered: closed
    assert not guard.is_open
    assert await guard.run(answer) == "ok"
