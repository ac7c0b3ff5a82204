"""HTTP tools against a real local server: validation, secrets, the internal-address guard,
timeouts, size cap and redirects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from livekit.agents.llm import ToolError
from pydantic import SecretStr

from shared.addresses import AddressGuard, UnresolvableHost
from shared.contracts import HttpTool
from spawner.tools import ToolContext, ToolRefused, invoke
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


async def test_an_unresolvable_host_is_a_tool_error(client: httpx.AsyncClient) -> None:
    with pytest.raises(ToolError, match=r"'no-such-host\.invalid' could not be resolved") as failed:
        await invoke(tool("http://no-such-host.invalid/x"), {"start": "10:00"}, context(client))
    assert not isinstance(failed.value, ToolRefused)
    assert isinstance(failed.value.__cause__, UnresolvableHost)  # kept for the logs


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
