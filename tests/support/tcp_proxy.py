"""A TCP proxy a test can cut: a real network outage between a client and a real server.

    async with TcpProxy("127.0.0.1", pg_port) as proxy:
        store = await PostgresStore.connect(dsn_through(proxy.port))
        proxy.cut()      # open connections are reset, new ones refused
        proxy.restore()  # connections go through again

Used for store outages: the database keeps running for every other test, and the client under
test sees exactly what it would see when the network or the server goes away.

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
        self.up = True

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

    def cut(self) -> None:
        self.up = False
        for writer in list(self._links):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.up = True

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if not self.up:
            client_w.transport.abort()
            return
        try:
            if isinstance(self._target, Path):
                server_r, server_w = await asyncio.open_unix_connection(self._target)
            else:
                server_r, server_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.transport.abort()
            return
        self._links.update((client_w, server_w))
        await asyncio.gather(
            self._pipe(client_r, server_w), self._pipe(server_r, client_w), return_exceptions=True
        )
        self._links.difference_update((client_w, server_w))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.transport.abort()


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
