"""A TCP proxy a test can cut: a real network outage between a client and a real server.

    async with TcpProxy("127.0.0.1", pg_port) as proxy:
        store = await PostgresStore.connect(dsn_through(proxy.port))
        proxy.cut()      # open connections are reset, new ones refused
        proxy.restore()  # connections go through again
        proxy.freeze()   # connections stay open, new ones are accepted, nothing goes through

Used for store and LiveKit outages: the server keeps running for every other test, and the
client under test sees exactly what it would see when the network or the server goes away —
or, frozen, when the server hangs with the client's connections open in it (a stuck database
holding a pool's connections, a stalled LiveKit behind a kept-alive HTTP connection).

`BlackHole` is the other kind of outage: a server that accepts every connection and never
answers (a frozen database, a hung LiveKit, a stalled identity provider).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


class TcpProxy:
    def __init__(self, target: tuple[str, int] | Path) -> None:
        """`target`: (host, port), or the path of a Unix socket (the test Postgres uses one)."""
        self._target = target
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._aborted: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.up = True
        self.frozen = False
        # Client connections accepted, and how many of them the client closed (not the proxy,
        # not the server): what a test observes of a client that gives a connection up.
        self.accepted = 0
        self.closed_by_client = 0

    @property
    def port(self) -> int:
        assert self._server is not None, "proxy not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # The cut links end as soon as their pipes see it; one still connecting to the target
        # when they were cut would outlive the proxy.
        if self._handlers:
            _, stuck = await asyncio.wait(self._handlers, timeout=1.0)
            for handler in stuck:
                handler.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)

    def cut(self) -> None:
        self.up = False
        for writer in list(self._links):
            self._abort(writer)
        self._links.clear()

    def freeze(self) -> None:
        """From now on nothing goes through, either way: what a client sends is swallowed, the
        server's answers are held back, and new connections are accepted and connected nowhere.
        Every socket stays open, so a client finds out only by its own deadline."""
        self.frozen = True

    def restore(self) -> None:
        if self.frozen:
            self.cut()  # bytes were swallowed while frozen: those streams are broken for good
        self.frozen = False
        self.up = True

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.close()

    def _abort(self, writer: asyncio.StreamWriter) -> None:
        self._aborted.add(writer)
        with contextlib.suppress(Exception):
            writer.transport.abort()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if not self.up:
            client_w.transport.abort()
            return
        self.accepted += 1
        self._links.add(client_w)
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            if self.frozen:
                await self._pipe(client_r, None, client_w)
                return
            try:
                if isinstance(self._target, Path):
                    server_r, server_w = await asyncio.open_unix_connection(self._target)
                else:
                    server_r, server_w = await asyncio.open_connection(*self._target)
            except OSError:
                return
            self._links.add(server_w)
            await asyncio.gather(
                self._pipe(client_r, server_w, client_w),
                self._pipe(server_r, client_w, None),
                return_exceptions=True,
            )
            self._links.discard(server_w)
            self._aborted.discard(server_w)
        except asyncio.CancelledError:
            pass  # closed (or the loop is ending): asyncio would log a cancelled handler
        finally:
            self._links.discard(client_w)
            self._aborted.discard(client_w)
            self._handlers.discard(handler)
            client_w.transport.abort()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter | None,
        client: asyncio.StreamWriter | None,
    ) -> None:
        """Forwards `reader` to `writer` (while not frozen; no writer: swallows it) until it
        ends, then closes `writer`. `client`: `reader` is that client's side of the link."""
        try:
            while chunk := await reader.read(65536):
                if self.frozen or writer is None:
                    continue
                writer.write(chunk)
                await writer.drain()
            if client is not None and client not in self._aborted:
                self.closed_by_client += 1
        except OSError:
            if client is not None and client not in self._aborted:
                self.closed_by_client += 1  # reset by the client
            raise
        finally:
            if writer is not None:
                self._abort(writer)


class BlackHole:
    """Listens on 127.0.0.1 (`port`, or a free one), accepts, reads and discards, never answers.

    `accepted` counts connections; `close()` drops them and frees the port, so a test can put a
    working server on the same address afterwards.
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: asyncio.Server | None = None
        self._held: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    @property
    def port(self) -> int:
        assert self._server is not None, "black hole not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> BlackHole:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._port)
        return self

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._held):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> BlackHole:
        return await self.start()

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._held.add(writer)
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        finally:
            self._held.discard(writer)
            writer.transport.abort()


def via(dsn: str, proxy: TcpProxy) -> str:
    """`dsn` (postgresql:// or http://) pointed at the proxy instead of its server."""
    parts = urlsplit(dsn)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "host"])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def target_of(dsn: str) -> tuple[str, int] | Path:
    """Where `dsn` connects: host and port, or the Unix socket of a `?host=/dir` Postgres DSN."""
    parts = urlsplit(dsn)
    socket_dir = dict(parse_qsl(parts.query)).get("host")
    if socket_dir and socket_dir.startswith("/"):
        return Path(socket_dir) / f".s.PGSQL.{parts.port or 5432}"
    assert parts.hostname and parts.port, f"need an explicit host and port: {dsn}"
    return parts.hostname, parts.port
