"""The internal-address guard for tool URLs: which addresses are internal, resolved names,
literals, allowlists of hosts and networks, and the save-time URL check."""

from __future__ import annotations

import ipaddress

import pytest

from shared.addresses import (
    AddressGuard,
    AddressRefused,
    InternalAddress,
    UnresolvableHost,
    check_public_url,
    is_internal,
)


async def resolve(host: str, port: int) -> list[str]:
    table = {
        "api.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "mixed.example.com": ["93.184.216.34", "192.168.1.10"],
        "mapped.example.com": ["::ffff:127.0.0.1"],
        "crm.internal": ["10.1.4.2"],
    }
    if host not in table:
        raise OSError(f"[Errno -2] Name or service not known: {host}")
    return table[host]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
    ],
)
def test_internal_addresses_are_recognised(address: str) -> None:
    assert is_internal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_not_internal(address: str) -> None:
    assert not is_internal(ipaddress.ip_address(address))


async def test_the_guard_resolves_names_and_honours_the_allowlist() -> None:
    with pytest.raises(InternalAddress, match="internal address"):
        await AddressGuard().resolve("localhost", 80)
    with pytest.raises(InternalAddress):
        await AddressGuard(["10.0.0.0/8"]).resolve("127.0.0.1", 80)
    assert await AddressGuard(["127.0.0.0/8"]).resolve("127.0.0.1", 80) == "127.0.0.1"
    assert await AddressGuard(["127.0.0.1"]).resolve("127.0.0.1", 80) == "127.0.0.1"
    assert await AddressGuard(["LOCALHOST"]).resolve("localhost", 80) in ("127.0.0.1", "::1")
    with pytest.raises(UnresolvableHost, match="does not resolve"):
        await AddressGuard().resolve("no-such-host.invalid", 80)


async def test_the_guard_answers_the_address_it_checked() -> None:
    guard = AddressGuard(resolve=resolve)
    assert await guard.resolve("API.example.com.", 443) == "93.184.216.34"
    with pytest.raises(InternalAddress) as refused:
        await guard.resolve("mixed.example.com", 443)  # any one address counts
    assert refused.value.address == ipaddress.ip_address("192.168.1.10")
    # An allowlisted name is exempt whatever it resolves to, but is still resolved to connect.
    assert await AddressGuard(["crm.internal"], resolve=resolve).resolve("crm.internal", 80) == (
        "10.1.4.2"
    )
    with pytest.raises(UnresolvableHost):
        await AddressGuard(["nowhere.internal"], resolve=resolve).resolve("nowhere.internal", 80)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/bookings",
        "http://93.184.216.34:8080/x",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/x",
    ],
)
async def test_public_urls_pass(url: str) -> None:
    await check_public_url(url, resolve=resolve)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "internal address (127.0.0.1)"),
        ("http://0.0.0.0/", "internal address (0.0.0.0)"),
        ("http://100.64.0.1/", "internal address (100.64.0.1)"),  # carrier-grade NAT
        ("http://[fe80::1%25eth0]/", "internal address (fe80::1)"),
        ("http://[fd00::1]/", "internal address (fd00::1)"),
        ("http://224.0.0.1/", "internal address (224.0.0.1)"),
        ("https://mixed.example.com/", "internal address (192.168.1.10)"),  # any one counts
        ("https://mapped.example.com/", "internal address (::ffff:7f00:1)"),
        ("https://nowhere.example.com/", "does not resolve"),
        ("https:///path-only", "has no host"),
    ],
)
async def test_internal_or_unresolvable_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(AddressRefused) as refused:
        await check_public_url(url, resolve=resolve)
    assert reason in str(refused.value)


async def test_the_allowlist_names_hosts_or_networks() -> None:
    await check_public_url("http://crm.internal/x", allowlist=["CRM.internal"], resolve=resolve)
    await check_public_url("http://crm.internal/x", allowlist=["10.1.0.0/16"], resolve=resolve)
    await check_public_url("http://10.1.9.9/x", allowlist=["10.1.0.0/16"], resolve=resolve)
    with pytest.raises(InternalAddress):
        await check_public_url("http://10.2.0.1/x", allowlist=["10.1.0.0/16"], resolve=resolve)
    # A host allowlisted by name may resolve only inside the spawner's network: not resolved here.
    await check_public_url("http://inside.corp/x", allowlist=["inside.corp"], resolve=resolve)


async def test_the_system_resolver_is_the_default() -> None:
    with pytest.raises(InternalAddress, match="'localhost' is an internal address"):
        await check_public_url("http://localhost:9/")
