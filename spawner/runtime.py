"""`Runtime`: what every job of one process shares — the store, the config cache, the recorder.

LiveKit runs each job on its own event loop (a thread of the worker with the thread executor,
a process of its own with the process executor). A database pool and a cache with single-flight
loads belong to one loop, so the runtime owns one: a daemon thread running an event loop that
holds the store, the `ConfigLoader` and the `SessionRecorder`. Jobs call into it with
`await runtime.call(coro)`. With the thread executor all calls of a replica share one cache and
one pool; with the process executor each job process has its own (opened in prewarm).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, TypeVar

from shared.logging import get_logger
from shared.recording import SessionRecorder
from shared.settings import Settings
from shared.store import AgentStore, StoreUnavailable, open_store
from spawner.loader import ConfigLoader

log = get_logger(__name__)

T = TypeVar("T")

OPEN_TIMEOUT_S = 60.0


class Runtime:
    _shared: ClassVar[Runtime | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        settings: Settings,
        *,
        open_store: Callable[[Settings], Awaitable[AgentStore]] = open_store,
    ) -> None:
        self.settings = settings
        self._open_store = open_store
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="spawner-runtime", daemon=True
        )
        self.store: AgentStore
        self.loader: ConfigLoader
        self.recorder: SessionRecorder

    @classmethod
    def shared(cls, settings: Settings) -> Runtime:
        """This process's runtime, started on first use."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls(settings).start()
            return cls._shared

    def start(self) -> Runtime:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(OPEN_TIMEOUT_S)
        return self

    async def _open(self) -> None:
        self.store = await self._open_store(self.settings)
        self.loader = ConfigLoader(self.store)
        self.recorder = SessionRecorder(self.store, self.settings.spool_dir)
        try:
            await self.store.ping()  # a warm connection for the first job
        except StoreUnavailable as exc:
            log.warning("store_unavailable_at_start", error=str(exc))

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Runs `coro` on the runtime's loop and awaits it from the caller's loop."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def close(self, timeout: float = 10.0) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.store.close(), self._loop).result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
