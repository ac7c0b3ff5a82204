"""The internal-address guard for HTTP tool URLs, checked when Voxie saves a tool.

A user must not be able to point an agent's tool at the platform's own network (loopback,
private ranges, link-local cloud metadata such as 169.254.169.254). The host is resolved and
every address it resolves to must be public, unless `TOOL_HTTP_ALLOWLIST` names the host or a
network containing the address. The spawner checks again at call time (DNS can change); this
check gives the user an answer while they are still talking to Voxie.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class InternalAddress(ValueError):
    """The URL's host is (or resolves to) a non-public address, or does not resolve at all."""


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_public_url(
    url: str, *, allowlist: Sequence[str] = (), resolve: Resolver = system_resolver
) -> None:
    """Raises InternalAddress unless every address `url`'s host resolves to is public."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise InternalAddress(f"'{url}' has no host")
    if host in {entry.lower() for entry in allowlist}:
        return
    networks = _networks(allowlist)
    literal = _ip(host)
    if literal is not None:
        addresses = [literal]
    else:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            resolved = await resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise InternalAddress(f"the host '{host}' does not resolve ({exc})") from None
        addresses = [ip for ip in map(_ip, resolved) if ip is not None]
        if not addresses:
            raise InternalAddress(f"the host '{host}' does not resolve to any address")
    for address in addresses:
        if any(address in network for network in networks):
            continue
        if not _is_public(address):
            raise InternalAddress(
                f"the host '{host}' is an internal address ({address}); tools may only call "
                "public internet addresses"
            )


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _ip(text: str) -> IPAddress | None:
    try:
        # A scoped IPv6 address ("fe80::1%eth0") is link-local whatever its scope.
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _networks(allowlist: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in allowlist:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name, matched above
    return networks
