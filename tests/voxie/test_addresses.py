"""The internal-address guard for tool URLs: literals, resolved names, allowlists."""

from __future__ import annotations

import pytest

from voxie.addresses import InternalAddress, check_public_url


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
    "url",
    [
        "https://api.example.com/bookings",
        "http://93.184.216.34:8080/x",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/x",
    ],
)
async def test_public_addresses_pass(url: str) -> None:
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
async def test_internal_or_unresolvable_addresses_are_refused(url: str, reason: str) -> None:
    with pytest.raises(InternalAddress) as refused:
        await check_public_url(url, resolve=resolve)
    assert reason in str(refused.value)


async def test_the_allowlist_names_hosts_or_networks() -> None:
    await check_public_url("http://crm.internal/x", allowlist=["CRM.internal"], resolve=resolve)
    await check_public_url("http://crm.internal/x", allowlist=["10.1.0.0/16"], resolve=resolve)
    await check_public_url("http://10.1.9.9/x", allowlist=["10.1.0.0/16"], resolve=resolve)
    with pytest.raises(InternalAddress):
        await check_public_url("http://10.2.0.1/x", allowlist=["10.1.0.0/16"], resolve=resolve)


async def test_the_system_resolver_is_the_default() -> None:
    with pytest.raises(InternalAddress, match="'localhost' is an internal address"):
        await check_public_url("http://localhost:9/")
