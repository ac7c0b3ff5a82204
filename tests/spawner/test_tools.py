"""HTTP tools against a real local server: validation, secrets, the internal-address guard,
timeouts, size cap and redirects."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from livekit.agents.llm import ToolError
from pydantic import SecretStr

from shared.contracts import HttpTool
from spawner.tools import AddressGuard, ToolContext, ToolRefused, invoke, is_internal
from tests.spawner.conftest import SECRET


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as opened:
        yield opened


def tool(url: str, **values: Any) -> HttpTool:
    return HttpTool.model_validate(
        {
            "name": "book_appointment",
            "description": "Book a slot.",
            "parameters": {"type": "object", "properties": {"start": {"type": "string"}}},
            "url": url,
            "headers": {"Authorization": {"secret": "CLINIC_API_TOKEN"}},
            **values,
        }
    )


def context(client: httpx.AsyncClient, allow: list[str] | None = None) -> ToolContext:
    return ToolContext(
        client=client,
        guard=AddressGuard(allow or []),
        secrets={"CLINIC_API_TOKEN": SecretStr(f"Bearer {SECRET}")},
    )


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
    with pytest.raises(ToolRefused, match="internal address"):
        await AddressGuard().resolve("localhost", 80)
    with pytest.raises(ToolRefused):
        await AddressGuard(["10.0.0.0/8"]).resolve("127.0.0.1", 80)
    assert await AddressGuard(["127.0.0.0/8"]).resolve("127.0.0.1", 80) == "127.0.0.1"
    assert await AddressGuard(["127.0.0.1"]).resolve("127.0.0.1", 80) == "127.0.0.1"
    assert await AddressGuard(["LOCALHOST"]).resolve("localhost", 80) in ("127.0.0.1", "::1")
    with pytest.raises(ToolError, match="could not be resolved"):
        await AddressGuard().resolve("no-such-host.invalid", 80)


async def test_an_allowlisted_call_sends_the_secret_and_returns_the_answer(
    clinic: str, client: httpx.AsyncClient
) -> None:
    answer = await invoke(
        tool(f"{clinic}/bookings"), {"start": "10:00"}, context(client, ["127.0.0.1"])
    )
    assert '"booked":"10:00"' in answer
    assert SECRET in answer  # the header came from TOOL_SECRETS, not from the config


async def test_get_tools_send_arguments_as_the_query(
    clinic: str, client: httpx.AsyncClient
) -> None:
    spec = tool(f"{clinic}/slots", method="GET", headers={})
    answer = await invoke(spec, {"day": "monday"}, context(client, ["127.0.0.1"]))
    assert '"day":"monday"' in answer


async def test_the_same_url_without_the_allowlist_is_refused(
    clinic: str, client: httpx.AsyncClient
) -> None:
    with pytest.raises(ToolRefused, match="internal address"):
        await invoke(tool(f"{clinic}/bookings"), {"start": "10:00"}, context(client))


async def test_a_redirect_to_an_internal_address_is_refused(
    clinic: str, client: httpx.AsyncClient
) -> None:
    spec = tool(f"{clinic}/to-metadata", method="GET", headers={})
    with pytest.raises(ToolRefused, match=r"169\.254\.169\.254"):
        await invoke(spec, {}, context(client, ["127.0.0.1"]))


async def test_a_redirect_within_the_allowed_host_is_followed(
    clinic: str, client: httpx.AsyncClient
) -> None:
    spec = tool(f"{clinic}/to-slots", method="GET", headers={})
    assert '"slots"' in await invoke(spec, {"day": "friday"}, context(client, ["127.0.0.1"]))


@pytest.mark.parametrize(
    ("path", "values", "message"),
    [
        ("/big", {"method": "GET"}, "larger than 64 KiB"),
        ("/slow", {"method": "GET", "timeout_s": 0.5}, r"timed out after 0\.5 s"),
        ("/failing", {"method": "GET"}, "HTTP 503: calendar offline"),
    ],
)
async def test_service_failures_become_tool_errors(
    clinic: str, client: httpx.AsyncClient, path: str, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        await invoke(tool(f"{clinic}{path}", **values), {}, context(client, ["127.0.0.1"]))


async def test_a_missing_secret_is_a_tool_error_not_a_call(
    clinic: str, client: httpx.AsyncClient
) -> None:
    spec = tool(f"{clinic}/headers", method="GET", headers={"Authorization": {"secret": "NOPE"}})
    with pytest.raises(ToolError, match="missing secret"):
        await invoke(spec, {}, context(client, ["127.0.0.1"]))
