"""The outage proxy itself: it forwards, a cut resets, and a freeze holds every socket open while
nothing goes through (old connections and new ones), counting what the clients close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: bytes) -> bytes:
    writer.write(text + b"\n")
    await writer.drain()
    return await reader.readline()


async def test_a_frozen_proxy_holds_connections_open_and_forwards_nothing(echo: int) -> None:
    async with TcpProxy(("127.0.0.1", echo)) as proxy:
        old_r, old_w = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await ask(old_r, old_w, b"hello") == b"hello\n"

        proxy.freeze()
        new_r, new_w = await asyncio.open_connection("127.0.0.1", proxy.port)  # still accepted
        for reader, writer in ((old_r, old_w), (new_r, new_w)):
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):  # nothing comes back, however long one waits
                    await ask(reader, writer, b"anyone?")
            assert not reader.at_eof()  # and nothing was closed either
        assert (proxy.accepted, proxy.closed_by_client) == (2, 0)

        old_w.close()  # a client giving its connection up is seen, frozen or not
        await old_w.wait_closed()
        for _ in range(200):
            if proxy.closed_by_client:
                break
            await asyncio.sleep(0.01)
        assert proxy.closed_by_client == 1

        proxy.restore()  # frozen streams are broken: they are reset, new ones work again
        assert await new_r.read() == b""
        again_r, again_w = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await ask(again_r, again_w, b"back") == b"back\n"
        again_w.close()
