"""`free_port`: ports a later bind can still have, whatever the machine does meanwhile."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import pytest

from voxiectl.livekit_local import free_port


def ephemeral_range() -> range:
    low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    return range(low, high + 1)


def test_ports_come_from_outside_the_range_outgoing_connections_take_theirs_from() -> None:
    ports = [free_port() for _ in range(50)] + [free_port(socket.SOCK_DGRAM) for _ in range(10)]
    assert not [port for port in ports if port in ephemeral_range()]


def test_a_port_is_never_handed_out_twice() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_the_port_binds_on_the_wildcard_address_as_the_agents_health_server_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Taken on IPv6 loopback only: 127.0.0.1 still has it, the health server's "::" does not.
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as taken:
        taken.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        taken.bind(("::1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        offered, choose = iter([busy]), secrets.choice
        monkeypatch.setattr(secrets, "choice", lambda ports: next(offered, None) or choose(ports))
        port = free_port()
        assert port != busy
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
            server.bind(("::", port))
            server.listen()


def test_a_port_taken_on_loopback_only_is_not_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        offered = iter([busy, busy, busy + 1 if busy < 65535 else busy - 1])
        monkeypatch.setattr(secrets, "choice", lambda _: next(offered))
        assert free_port() != busy
