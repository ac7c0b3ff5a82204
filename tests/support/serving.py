"""Serve an ASGI app for tests on 127.0.0.1 and a free port, in a thread with its own loop.

The doubles (PostgREST, LiveKit) and the webhook sink run this way so that the test's event loop
is free to drive real clients against them, synchronous fixtures can start and stop them, and
worker subprocesses reach them like any server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import socket
import threading
import time
import warnings
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

import uvicorn
from starlette.types import ASGIApp

T = TypeVar("T")


def _import_legacy_websockets() -> None:
    """Only uvicorn's legacy websockets implementation can refuse a handshake with an HTTP
    status and body (as livekit-server does on /agent and /rtc); it warns once, on import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importlib.import_module("uvicorn.protocols.websockets.websockets_impl")


_START_TIMEOUT_S = 10.0


class ThreadedServer:
    """uvicorn serving `app` from a daemon thread; `url` is known once `start()` returns."""

    def __init__(self, app: ASGIApp, *, name: str, websockets: bool = False, port: int = 0) -> None:
        self._app = app
        self._name = name
        self._ws: Literal["none", "websockets"] = "websockets" if websockets else "none"
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError(f"{self._name} is not started")
        return self._url

    def start(self) -> str:
        if self._url is not None:
            return self._url
        if self._ws == "websockets":
            _import_legacy_websockets()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it, a response written in two parts waits
        # for the client's delayed ACK (~40 ms a request).
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(("127.0.0.1", self._port))
        self._port = listener.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            http="h11",
            ws=self._ws,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await server.serve(sockets=[listener])

        thread = threading.Thread(
            target=lambda: asyncio.run(serve()), name=f"{self._name}-{self._port}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                listener.close()
                raise RuntimeError(f"{self._name} did not start")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        self._url = f"http://127.0.0.1:{self._port}"
        return self._url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = self._loop = None
        self._url = None

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the server's loop, where the app's state lives."""
        if self._loop is None:
            coro.close()
            raise RuntimeError(f"{self._name} is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on the server's loop from another loop (the test's)."""
        return await asyncio.wrap_future(self.submit(coro))
