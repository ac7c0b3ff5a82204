"""`ConfigLoader`: agent configs from the store, cached in the process.

- **TTL**: a cached config serves for `ttl_s` without touching the store.
- **Version**: a caller that knows the agent's current version (the dispatch metadata's
  `agent_version`) passes `min_version`; an older cached copy is reloaded at once, so an agent
  edited a moment ago never runs its previous config.
- **Single flight**: N concurrent gets of one agent make one query; the others await it.
- **Stale if error**: when the store is unavailable, an expired cached config keeps serving
  (with a warning and a metric) rather than failing a call that could run.

Unknown and invalid agents are not cached: the next call asks the store again.

Published versions (`version`) are immutable, so each is cached by (agent, version) for the
life of the process (bounded, oldest out first), with the same single flight; the agent row
above still says whether the agent may run at all (an archived agent never does).
`get` runs on one event loop (the process runtime's); only `cached` may be called from others.
`process_loader(runtime)` is the process's one loader, over the runtime's store.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from shared.contracts import AgentConfig
from shared.contracts.versions import AgentVersion
from shared.logging import get_logger
from shared.runtime import Runtime
from shared.store import AgentStore, NotFound, StoreError, StoreUnavailable
from spawner import metrics

log = get_logger(__name__)

DEFAULT_TTL_S = 30.0
MAX_ENTRIES = 10_000

_process_loaders: weakref.WeakKeyDictionary[Runtime, ConfigLoader] = weakref.WeakKeyDictionary()
_process_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Entry:
    config: AgentConfig
    loaded_at: float


class ConfigLoader:
    def __init__(
        self,
        store: AgentStore,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[UUID, _Entry] = {}
        self._inflight: dict[UUID, asyncio.Future[AgentConfig]] = {}
        self._versions: dict[tuple[UUID, int], AgentVersion] = {}
        self._version_flights: dict[tuple[UUID, int], asyncio.Future[AgentVersion]] = {}

    def cached_version(self, agent_id: UUID, version: int) -> AgentVersion | None:
        """The cached snapshot, or None; safe from any thread, like `cached`."""
        found = self._versions.get((agent_id, version))
        if found is not None:
            metrics.CONFIG_LOADS.labels(result="cached").inc()
        return found

    async def version(self, agent_id: UUID, version: int) -> AgentVersion:
        """The published snapshot; raises NotFound, InvalidInput or StoreUnavailable."""
        if (found := self.cached_version(agent_id, version)) is not None:
            return found
        key = (agent_id, version)
        flight = self._version_flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._load_version(key))
            self._version_flights[key] = flight
            flight.add_done_callback(lambda _: self._version_flights.pop(key, None))
        return await asyncio.shield(flight)

    async def _load_version(self, key: tuple[UUID, int]) -> AgentVersion:
        loaded = await self._store.get_version(*key)
        if len(self._versions) >= MAX_ENTRIES:
            self._versions.pop(next(iter(self._versions)))
        self._versions[key] = loaded
        metrics.CONFIG_LOADS.labels(result="loaded").inc()
        return loaded

    def cached(self, agent_id: UUID, *, min_version: int | None = None) -> AgentConfig | None:
        """The fresh cached config, or None. Safe from any thread (one dict read of an immutable
        entry), so a job on another loop skips the hop to the runtime on a hit."""
        entry = self._cache.get(agent_id)
        if entry is None or not self._fresh(entry, min_version):
            return None
        metrics.CONFIG_LOADS.labels(result="cached").inc()
        return entry.config

    async def get(self, agent_id: UUID, *, min_version: int | None = None) -> AgentConfig:
        """The agent's config; raises NotFound, InvalidInput or StoreUnavailable."""
        if (config := self.cached(agent_id, min_version=min_version)) is not None:
            return config
        entry = self._cache.get(agent_id)
        flight = self._inflight.get(agent_id)
        if flight is None:
            # A task, not the caller's own await: a caller that gives up (its job ends) must
            # not cancel the load the others are waiting for.
            flight = asyncio.ensure_future(self._load(agent_id, entry))
            self._inflight[agent_id] = flight
            flight.add_done_callback(lambda _: self._inflight.pop(agent_id, None))
        return await asyncio.shield(flight)

    def invalidate(self, agent_id: UUID) -> None:
        self._cache.pop(agent_id, None)

    def _fresh(self, entry: _Entry, min_version: int | None) -> bool:
        if min_version is not None and entry.config.version < min_version:
            return False
        return self._clock() - entry.loaded_at < self._ttl_s

    async def _load(self, agent_id: UUID, stale: _Entry | None) -> AgentConfig:
        started = time.perf_counter()
        try:
            config = await self._store.get_agent(agent_id)
        except StoreUnavailable as exc:
            metrics.CONFIG_LOAD_FAILURES.labels(reason="store_unavailable").inc()
            if stale is None:
                raise
            metrics.CONFIG_LOADS.labels(result="stale").inc()
            log.warning(
                "config_served_stale",
                agent_id=str(agent_id),
                version=stale.config.version,
                age_s=round(self._clock() - stale.loaded_at, 1),
                error=str(exc),
            )
            return stale.config
        except StoreError as exc:
            self._cache.pop(agent_id, None)
            reason = "not_found" if isinstance(exc, NotFound) else "invalid"
            metrics.CONFIG_LOAD_FAILURES.labels(reason=reason).inc()
            raise
        finally:
            metrics.CONFIG_LOAD_SECONDS.observe(time.perf_counter() - started)
        if stale is not None and stale.config.version != config.version:
            log.info(
                "config_changed",
                agent_id=str(agent_id),
                old=stale.config.version,
                new=config.version,
            )
        if len(self._cache) >= MAX_ENTRIES and agent_id not in self._cache:
            # Oldest first: dicts keep insertion order and a reload re-inserts at the end.
            self._cache.pop(next(iter(self._cache)))
        self._cache.pop(agent_id, None)
        self._cache[agent_id] = _Entry(config, self._clock())
        metrics.CONFIG_LOADS.labels(result="loaded").inc()
        return config


def process_loader(runtime: Runtime) -> ConfigLoader:
    """The loader every job of this process shares (one cache, one single flight), over the
    process runtime's store; its `get` runs on the runtime's loop (`runtime.call`)."""
    with _process_lock:
        if (loader := _process_loaders.get(runtime)) is None:
            loader = _process_loaders[runtime] = ConfigLoader(runtime.store)
        return loader
