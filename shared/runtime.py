"""`Runtime`: what every job of one worker process shares — one store (one database pool) and
the session recorder — used by both workers and by the spool replayer.

LiveKit runs each job on its own event loop (a thread of the worker with the thread executor,
a process of its own with the process executor). A database pool belongs to one loop, so the
runtime owns one: a daemon thread running an event loop that holds the store and the
`SessionRecorder`. Jobs call into it with `await runtime.call(coro)`, or use `job_store()`, the
same store with every call forwarded there. With the thread executor all jobs of a replica and
its spool replayer share one pool; with the process executor each job process has its own.

    runtime = await asyncio.to_thread(Runtime.shared, settings)   # opened on first use
    session_id = await runtime.call(runtime.recorder.start(new))
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, TypeVar, cast

from shared.logging import get_logger
from shared.recording import SessionRecorder
from shared.settings import Settings
from shared.store import AgentStore, StoreUnavailable, open_store

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
            target=self._loop.run_forever, name="store-runtime", daemon=True
        )
        self.store: AgentStore
        self.recorder: SessionRecorder

    @classmethod
    def shared(cls, settings: Settings) -> Runtime:
        """This process's runtime, started on first use (it blocks until the store is open:
        from a running event loop, call it through `asyncio.to_thread`)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls(settings).start()
            return cls._shared

    def start(self) -> Runtime:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(OPEN_TIMEOUT_S)
        except BaseException:
            self._stop()  # no thread left behind by a store that would not open
            raise
        return self

    async def _open(self) -> None:
        self.store = await self._open_store(self.settings)
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

    def job_store(self) -> AgentStore:
        """The store for code running on a job's loop: each call runs on the runtime's loop.
        Closing it does nothing; the runtime's store lives as long as the process."""
        return cast("AgentStore", _ForwardedStore(self))

    def close(self, timeout: float = 10.0) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.store.close(), self._loop).result(timeout)
        finally:
            self._stop(timeout)

    def _stop(self, timeout: float = 10.0) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)


class _ForwardedStore:
    """`AgentStore` by forwarding: typed as the Protocol by `Runtime.job_store` (spelling out
    each of its methods again here would be one more copy of the Protocol to keep in step)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._runtime.store, name)

        async def forwarded(*args: Any, **kwargs: Any) -> Any:
            return await self._runtime.call(method(*args, **kwargs))

        return forwarded

    async def close(self) -> None:
        """The runtime's store is the process's: a job does not close it."""
