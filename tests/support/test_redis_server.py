"""The Redis fixture: a real, throwaway redis-server; where it is missing, a skip that names the
install command, except in CI, where its absence fails the test."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.redis_server import redis_binary, redis_server


def ask(address: str, *command: str) -> bytes:
    host, port = address.rsplit(":", 1)
    wire = f"*{len(command)}\r\n" + "".join(f"${len(c)}\r\n{c}\r\n" for c in command)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(wire.encode())
        return conn.recv(4096)


def test_it_runs_on_loopback_and_persists_nothing(tmp_path: Path) -> None:
    with redis_server(tmp_path) as address:
        assert address.startswith("127.0.0.1:")
        assert ask(address, "PING") == b"+PONG\r\n"
        assert ask(address, "CONFIG", "GET", "save").endswith(b"$4\r\nsave\r\n$0\r\n\r\n")
        assert b"$2\r\nno\r\n" in ask(address, "CONFIG", "GET", "appendonly")
        assert ask(address, "SET", "k", "v") == b"+OK\r\n"
    assert not list(tmp_path.glob("*.rdb")) and not list(tmp_path.glob("appendonly*"))


def test_missing_it_skips_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install redis-server"):
        redis_binary()


def test_missing_in_ci_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing in CI"):
        redis_binary()
