"""HTTP tools against a real local server: validation, the owner's secrets and their host
bindings (stored in the real database), the owner's internal-address exemptions, timeouts,
size cap and redirects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from uuid import uuid4

import httpx
import pytest
from livekit.agents.llm import ToolError

from shared.addresses import UnresolvableHost
from shared.contracts import HttpTool
from shared.contracts.dispatch import OPERATOR_OWNER_ID
from shared.store.postgres import PostgresStore
from spawner.call import tool_context
from spawner.tools import ToolContext, ToolRefused, invoke
from tests.spawner.conftest import CAPTURED, SECRET, granted, tool_settings
from tests.support.tcp_proxy import TcpProxy, via

Context = Callable[..., Awaitable[ToolContext]]


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


@pytest.fixture
async def context(
    store: PostgresStore, client: httpx.AsyncClient
) -> Callable[..., Awaitable[ToolContext]]:
    """A new owner's tool context: `allow` exempt, the clinic's secret bound to `hosts`."""

    async def make(
        allow: list[str] | None = None, *, hosts: Sequence[str] = ("127.0.0.1",)
    ) -> ToolContext:
        settings = tool_settings()
        return await granted(store, settings, client, allow=allow or [], owner=uuid4(), hosts=hosts)

    return make


async def test_an_allowlisted_call_sends_the_secret_and_returns_the_answer(
    clinic: str, context: Context
) -> None:
    answer = await invoke(
        tool(f"{clinic}/bookings"), {"start": "10:00"}, await context(["127.0.0.1"])
    )
    assert '"booked":"10:00"' in answer
    assert SECRET in answer  # the header came from the owner's stored secret


async def test_get_tools_send_arguments_as_the_query(clinic: str, context: Context) -> None:
    spec = tool(f"{clinic}/slots", method="GET", headers={})
    answer = await invoke(spec, {"day": "monday"}, await context(["127.0.0.1"]))
    assert '"day":"monday"' in answer


async def test_the_same_url_without_the_allowlist_is_refused(clinic: str, context: Context) -> None:
    with pytest.raises(ToolRefused, match="internal address"):
        await invoke(tool(f"{clinic}/bookings"), {"start": "10:00"}, await context())


async def test_an_unresolvable_host_is_a_tool_error(context: Context) -> None:
    ctx = await context(hosts=["no-such-host.invalid"])
    with pytest.raises(ToolError, match=r"'no-such-host\.invalid' could not be resolved") as failed:
        await invoke(tool("http://no-such-host.invalid/x"), {"start": "10:00"}, ctx)
    assert not isinstance(failed.value, ToolRefused)
    assert isinstance(failed.value.__cause__, UnresolvableHost)  # kept for the logs


async def test_a_redirect_to_an_internal_address_is_refused(clinic: str, context: Context) -> None:
    spec = tool(f"{clinic}/to-metadata", method="GET", headers={})
    with pytest.raises(ToolRefused, match=r"169\.254\.169\.254"):
        await invoke(spec, {}, await context(["127.0.0.1"]))


async def test_a_redirect_within_the_allowed_host_is_followed(
    clinic: str, context: Context
) -> None:
    spec = tool(f"{clinic}/to-slots", method="GET", headers={})
    assert '"slots"' in await invoke(spec, {"day": "friday"}, await context(["127.0.0.1"]))


@pytest.mark.parametrize(
    ("path", "values", "message"),
    [
        ("/big", {"method": "GET"}, "larger than 64 KiB"),
        ("/slow", {"method": "GET", "timeout_s": 0.5}, r"timed out after 0\.5 s"),
        ("/failing", {"method": "GET"}, "HTTP 503: calendar offline"),
    ],
)
async def test_service_failures_become_tool_errors(
    clinic: str, context: Context, path: str, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        await invoke(tool(f"{clinic}{path}", **values), {}, await context(["127.0.0.1"]))


async def test_a_missing_secret_is_a_tool_error_not_a_call(clinic: str, context: Context) -> None:
    spec = tool(f"{clinic}/headers", method="GET", headers={"Authorization": {"secret": "NOPE"}})
    with pytest.raises(ToolError, match="a secret it needs is missing"):
        await invoke(spec, {}, await context(["127.0.0.1"]))


# --- the owner's secrets, bound to hosts (issue 21) ---------------------------------------------


async def test_a_secret_is_not_sent_to_a_host_outside_its_binding_and_nothing_leaves(
    clinic: str, context: Context
) -> None:
    """The tool's URL was edited after the secret was bound (or the row was written around the
    API): the call-time check refuses before any connection is made."""
    CAPTURED.clear()
    bound_elsewhere = await context(["127.0.0.1"], hosts=["api.clinic.example"])
    with pytest.raises(ToolRefused, match=r"may not send its credentials to '127\.0\.0\.1'"):
        await invoke(tool(f"{clinic}/capture"), {"start": "10:00"}, bound_elsewhere)
    assert CAPTURED == []

    # The same request with the secret bound to this host goes out, header and all.
    await invoke(tool(f"{clinic}/capture"), {"start": "10:00"}, await context(["127.0.0.1"]))
    assert [c.get("authorization") for c in CAPTURED] == [f"Bearer {SECRET}"]


async def test_a_wildcard_binding_covers_subdomains_only(
    store: PostgresStore, client: httpx.AsyncClient
) -> None:
    settings = tool_settings()
    owner = uuid4()
    # Resolution is not reached: the binding is checked first (example.com would resolve).
    ctx = await granted(store, settings, client, allow=[], owner=owner, hosts=["*.clinic.example"])
    with pytest.raises(ToolRefused, match=r"credentials to 'clinic\.example'"):
        await invoke(tool("https://clinic.example/x"), {}, ctx)
    with pytest.raises(ToolError) as sent:  # allowed: it goes on to resolve (and fails to)
        await invoke(tool("https://api.clinic.example/x"), {}, ctx)
    assert not isinstance(sent.value, ToolRefused)


async def test_another_owners_secret_is_never_sent(
    store: PostgresStore, clinic: str, client: httpx.AsyncClient
) -> None:
    settings = tool_settings()
    owner, stranger = uuid4(), uuid4()
    await granted(store, settings, client, allow=["127.0.0.1"], owner=owner)
    # The stranger's agent names the owner's secret; the stranger has the same exemptions.
    await store.set_egress(stranger, ["127.0.0.1"], updated_by="operator")
    CAPTURED.clear()
    with pytest.raises(ToolError, match="a secret it needs is missing"):
        await invoke(tool(f"{clinic}/capture"), {}, tool_context(settings, store, stranger, client))
    assert CAPTURED == []


async def test_the_operators_tool_secrets_reach_only_the_operators_agents(
    store: PostgresStore, clinic: str, client: httpx.AsyncClient
) -> None:
    settings = tool_settings(
        tool_http_allowlist=["127.0.0.1"],
        tool_secrets={"CLINIC_API_TOKEN": {"value": "Bearer operator", "hosts": ["127.0.0.1"]}},
    )
    user = uuid4()
    await store.set_egress(user, ["127.0.0.1"], updated_by="operator")
    CAPTURED.clear()
    with pytest.raises(ToolError, match="a secret it needs is missing"):
        await invoke(tool(f"{clinic}/capture"), {}, tool_context(settings, store, user, client))
    assert CAPTURED == []  # the hole of issue 21: a user's tool carried the operator's secret

    operator = tool_context(settings, store, OPERATOR_OWNER_ID, client)
    await invoke(tool(f"{clinic}/capture"), {}, operator)
    assert [c.get("authorization") for c in CAPTURED] == ["Bearer operator"]


async def test_the_platform_allowlist_does_not_exempt_a_users_tools(
    store: PostgresStore, clinic: str, client: httpx.AsyncClient
) -> None:
    settings = tool_settings(tool_http_allowlist=["127.0.0.1"])
    spec = tool(f"{clinic}/slots", method="GET", headers={})
    with pytest.raises(ToolRefused, match="internal address"):
        await invoke(spec, {"day": "monday"}, tool_context(settings, store, uuid4(), client))


async def test_a_deleted_secret_stops_at_the_next_request_and_use_is_recorded(
    store: PostgresStore, clinic: str, client: httpx.AsyncClient
) -> None:
    settings = tool_settings()
    owner = uuid4()
    ctx = await granted(store, settings, client, allow=["127.0.0.1"], owner=owner)
    await invoke(tool(f"{clinic}/capture"), {}, ctx)
    [secret] = await store.list_secrets(owner)
    assert secret.last_used_at is not None
    await store.delete_secret(owner, "CLINIC_API_TOKEN")
    CAPTURED.clear()
    with pytest.raises(ToolError, match="a secret it needs is missing"):
        await invoke(tool(f"{clinic}/capture"), {}, ctx)
    assert CAPTURED == []


async def test_a_call_keeps_the_secrets_it_read_through_a_database_outage(
    store: PostgresStore,
    clinic: str,
    client: httpx.AsyncClient,
    proxy: TcpProxy,
    database_url: str,
) -> None:
    settings = tool_settings()
    owner = uuid4()
    await granted(store, settings, client, allow=["127.0.0.1"], owner=owner)
    cut_off = await PostgresStore.connect(via(database_url, proxy), attempts=1, timeout_s=2)
    try:
        in_call = tool_context(settings, cut_off, owner, client)
        await invoke(tool(f"{clinic}/capture"), {}, in_call)
        proxy.cut()
        CAPTURED.clear()
        await invoke(tool(f"{clinic}/capture"), {}, in_call)  # what it read, still bound
        assert [c.get("authorization") for c in CAPTURED] == [f"Bearer {SECRET}"]
        # A call that never read the secret does not get it while the store is down.
        with pytest.raises(ToolError, match="unavailable right now"):
            await invoke(
                tool(f"{clinic}/capture"), {}, tool_context(settings, cut_off, owner, client)
            )
    finally:
        proxy.restore()
        await cut_off.close()
