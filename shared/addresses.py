"""The internal-address guard for HTTP tool URLs, one rule for both workers.

A user must not be able to point an agent's tool at the platform's own network (loopback,
private ranges, link-local cloud metadata such as 169.254.169.254, and their IPv6, IPv4-mapped,
6to4 and Teredo forms). A host is resolved and *every* address it resolves to must be public,
unless `TOOL_HTTP_ALLOWLIST` names the host or a network (CIDR) holding the address.

Voxie (when a tool is added) and the API (`POST`/`PATCH /api/agents`) check a config's tools with
`check_tool_destinations`, so both accept exactly the same configs and the user gets an answer
while still talking to Voxie or the dashboard; the spawner checks again at call time
(`AddressGuard.resolve`, DNS can change) and connects to the address it checked, so a second DNS
answer cannot swap in an internal one. Each turns the exceptions below into its own errors.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import httpx

from shared.contracts.agent_config import BuiltinTool, HttpTool

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
# A save-time lookup is a request's dependency: a slow resolver must not hold the request.
RESOLVE_TIMEOUT_S = 5.0


class AddressRefused(ValueError):
    """A destination a tool may not call; the message is fit to show a user."""


class InternalAddress(AddressRefused):
    """The host is, or resolves to, a non-public address."""

    def __init__(self, host: str, address: IPAddress) -> None:
        super().__init__(
            f"the host '{host}' is an internal address ({address}); tools may only call "
            "public internet addresses"
        )
        self.host = host
        self.address = address


class UnresolvableHost(AddressRefused):
    """The host does not resolve to any address (or the URL has no host at all)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(reason)
        self.host = host


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_internal(address: IPAddress) -> bool:
    """True for anything but a public unicast address, also when wrapped in IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None and is_internal(embedded):
            return True
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
    )


class AddressGuard:
    """Decides which destinations an HTTP tool may reach.

    `allowlist` entries are host names (exempting that name, whatever it resolves to) or IP
    addresses / CIDR networks (exempting addresses inside them). `resolve` is injectable so tests
    can give names any addresses.
    """

    def __init__(self, allowlist: Sequence[str] = (), *, resolve: Resolver = system_resolver):
        self._resolve = resolve
        self._hosts: set[str] = set()
        self._networks: list[IPNetwork] = []
        for entry in allowlist:
            try:
                self._networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self._hosts.add(_host_key(entry))

    def exempts_host(self, host: str) -> bool:
        return _host_key(host) in self._hosts

    async def resolve(self, host: str, port: int) -> str:
        """The address to connect to. Raises InternalAddress if any address of `host` is
        internal and not exempt, UnresolvableHost if it has none."""
        name = _host_key(host)
        literal = _ip(name)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                    resolved = await self._resolve(name, port)
            except TimeoutError:
                reason = f"the host '{host}' did not resolve within {RESOLVE_TIMEOUT_S:g} s"
                raise UnresolvableHost(host, reason) from None
            except (OSError, UnicodeError) as exc:
                reason = f"the host '{host}' does not resolve ({exc})"
                raise UnresolvableHost(host, reason) from exc
            addresses = [ip for ip in map(_ip, resolved) if ip is not None]
            if not addresses:
                raise UnresolvableHost(host, f"the host '{host}' does not resolve to any address")
        if name not in self._hosts:
            for address in addresses:
                if is_internal(address) and not any(address in n for n in self._networks):
                    raise InternalAddress(host, address)
        return str(addresses[0])


def pinned(url: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """How to send to `url` at the `address` the guard checked (so a second DNS answer cannot
    swap in an internal one): the URL with the address for its host, the Host header, and for
    https the name TLS checks the certificate against (httpx's `sni_hostname` extension)."""
    host = {"Host": url.netloc.decode("ascii")}
    sni = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=address), host, sni


async def check_public_url(
    url: str, *, allowlist: Sequence[str] = (), resolve: Resolver = system_resolver
) -> None:
    """The save-time check: raises AddressRefused unless `url`'s host is allowlisted by name
    (not resolved then: it may only resolve inside the spawner's network) or every address it
    resolves to is public or in an allowlisted network."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise UnresolvableHost(host, f"'{url}' has no host")
    guard = AddressGuard(allowlist, resolve=resolve)
    if guard.exempts_host(host):
        return
    await guard.resolve(host, parts.port or (443 if parts.scheme == "https" else 80))


async def check_tool_destinations(
    tools: Iterable[HttpTool | BuiltinTool],
    *,
    allowlist: Sequence[str] = (),
    resolve: Resolver = system_resolver,
) -> None:
    """The save-time rule for a config's tools, shared by Voxie and the API: every HTTP tool's
    URL passes `check_public_url`. Raises AddressRefused naming the first tool that does not."""
    for tool in tools:
        if not isinstance(tool, HttpTool):  # a built-in tool calls nothing
            continue
        try:
            await check_public_url(str(tool.url), allowlist=allowlist, resolve=resolve)
        except AddressRefused as exc:
            raise AddressRefused(f"tool '{tool.name}': {exc}") from exc


def _host_key(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _ip(text: str) -> IPAddress | None:
    try:
        # A scoped IPv6 address ("fe80::1%eth0") is link-local whatever its scope.
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
