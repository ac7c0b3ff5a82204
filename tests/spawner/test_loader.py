"""The config loader on a real Postgres: TTL, version, single flight, stale-if-error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.contracts import AgentConfig, AgentPatch
from shared.contracts.versions import AgentVersion
from shared.store import NotFound, StoreUnavailable
from shared.store.postgres import PostgresStore
from spawner.loader import ConfigLoader
from tests.spawner.conftest import new_agent
from tests.support.tcp_proxy import TcpProxy, via


class CountingStore:
    """The real store, counting the agent reads that reach it."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.reads = 0

    async def get_agent(self, agent_id: UUID | str, **kwargs: Any) -> AgentConfig:
        self.reads += 1
        return await self.store.get_agent(agent_id, **kwargs)

    async def get_version(self, agent_id: UUID | str, version: int) -> AgentVersion:
        self.reads += 1
        return await self.store.get_version(agent_id, version)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def proxied(database_url: str, proxy: TcpProxy) -> AsyncIterator[CountingStore]:
    """A store whose network path to the database the test can cut."""
    store = await PostgresStore.connect(via(database_url, proxy), attempts=2, timeout_s=3)
    yield CountingStore(store)
    await store.close()


def loader_for(store: CountingStore, clock: Clock, ttl_s: float = 30) -> ConfigLoader:
    return ConfigLoader(store, ttl_s=ttl_s, clock=clock)  # type: ignore[arg-type]


async def test_a_cached_config_serves_until_its_ttl(
    store: PostgresStore, proxied: CountingStore
) -> None:
    agent = await store.create_agent(new_agent())
    clock = Clock()
    loader = loader_for(proxied, clock)
    first = await loader.get(agent.id)
    assert first == agent
    clock.t = 29.9
    assert await loader.get(agent.id) is first
    assert proxied.reads == 1
    clock.t = 30.0
    assert await loader.get(agent.id) == agent
    assert proxied.reads == 2


async def test_a_newer_version_reloads_at_once(
    store: PostgresStore, proxied: CountingStore
) -> None:
    agent = await store.create_agent(new_agent())
    loader = loader_for(proxied, Clock())
    await loader.get(agent.id)
    edited = await store.update_agent(
        agent.id, AgentPatch(greeting="Hello again!"), expected_version=agent.version
    )
    # Without a version hint the TTL governs; with one, the older copy is reloaded.
    assert (await loader.get(agent.id)).greeting == agent.greeting
    fresh = await loader.get(agent.id, min_version=edited.version)
    assert (fresh.version, fresh.greeting) == (edited.version, "Hello again!")
    assert await loader.get(agent.id, min_version=edited.version) is fresh
    assert proxied.reads == 2


async def test_concurrent_gets_of_one_agent_make_one_query(
    store: PostgresStore, proxied: CountingStore
) -> None:
    agent = await store.create_agent(new_agent())
    loader = loader_for(proxied, Clock())
    configs = await asyncio.gather(*(loader.get(agent.id) for _ in range(25)))
    assert {c.id for c in configs} == {agent.id}
    assert proxied.reads == 1


async def test_a_caller_giving_up_does_not_cancel_the_others_load(
    store: PostgresStore, proxied: CountingStore
) -> None:
    agent = await store.create_agent(new_agent())
    loader = loader_for(proxied, Clock())
    impatient = asyncio.ensure_future(loader.get(agent.id))
    patient = asyncio.ensure_future(loader.get(agent.id))
    await asyncio.sleep(0)
    impatient.cancel()
    assert (await patient).id == agent.id
    assert proxied.reads == 1


async def test_unknown_agents_are_not_cached(proxied: CountingStore) -> None:
    loader = loader_for(proxied, Clock())
    missing = uuid4()
    for _ in range(2):
        with pytest.raises(NotFound):
            await loader.get(missing)
    assert proxied.reads == 2


async def test_when_the_store_is_down_an_expired_config_keeps_serving(
    store: PostgresStore, proxied: CountingStore, proxy: TcpProxy
) -> None:
    agent = await store.create_agent(new_agent())
    other = await store.create_agent(new_agent())
    clock = Clock()
    loader = loader_for(proxied, clock)
    await loader.get(agent.id)
    proxy.cut()
    clock.t = 600
    assert await loader.get(agent.id) == agent  # stale, with a warning
    with pytest.raises(StoreUnavailable):
        await loader.get(other.id)
    proxy.restore()
    assert (await loader.get(other.id)).id == other.id


async def test_another_threads_job_reads_a_fresh_config_without_a_query(
    store: PostgresStore, proxied: CountingStore
) -> None:
    agent = await store.create_agent(new_agent())
    clock = Clock()
    loader = loader_for(proxied, clock)
    assert await asyncio.to_thread(loader.cached, agent.id) is None
    await loader.get(agent.id)
    assert await asyncio.to_thread(loader.cached, agent.id) == agent
    assert await asyncio.to_thread(loader.cached, agent.id, min_version=agent.version + 1) is None
    clock.t = 31
    assert await asyncio.to_thread(loader.cached, agent.id) is None
    assert proxied.reads == 1


async def test_published_versions_are_cached_for_good_one_query_each(
    store: PostgresStore, proxied: CountingStore
) -> None:
    agent = await store.create_agent(new_agent(status="active"))
    edited = await store.update_agent(
        agent.id, AgentPatch(greeting="Version two."), expected_version=agent.version
    )
    await store.publish_version(agent.id, published_by="operator")
    clock = Clock()
    loader = loader_for(proxied, clock)
    ones = await asyncio.gather(*(loader.version(agent.id, 1) for _ in range(10)))
    assert {v.config.greeting for v in ones} == {agent.greeting} and proxied.reads == 1
    two = await loader.version(agent.id, 2)
    assert two.config.greeting == edited.greeting and proxied.reads == 2
    # Immutable: no TTL, no reload, and readable from any thread.
    clock.t = 10_000.0
    assert await loader.version(agent.id, 1) is ones[0]
    assert await asyncio.to_thread(loader.cached_version, agent.id, 2) is two
    assert proxied.reads == 2
    with pytest.raises(NotFound):
        await loader.version(agent.id, 3)
    assert loader.cached_version(agent.id, 3) is None
