"""Agents CRUD over HTTP, through both stores: ownership, slugs, versions, bad input."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from backend.app import create_app
from shared.addresses import check_tool_destinations
from shared.contracts import AgentFields
from shared.contracts.dispatch import OPERATOR_OWNER_ID
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.backend.conftest import (
    ALICE,
    BOB,
    OPERATOR,
    AgentFactory,
    as_user,
    backend_settings,
    serving,
)
from tests.support.livekit import LiveKitDouble

NEW_AGENT: dict[str, Any] = {
    "slug": "clarence-coherence",
    "name": "Clarence Coherence",
    "instructions": "You are Clarence, the front desk of Coherence Dental.",
    "greeting": "Hi, this is Clarence.",
    "voice": "cedar",
    "tools": [{"type": "builtin", "name": "end_call"}],
    "status": "active",
}


async def test_crud_round_trip_through_either_store(any_store_settings: Settings) -> None:
    alice = as_user(ALICE, any_store_settings)
    bob = as_user(BOB, any_store_settings)
    async with serving(create_app(any_store_settings, reconcile=False)) as client:
        created = await client.post("/api/agents", json=NEW_AGENT, headers=alice)
        assert created.status_code == 201, created.text
        agent = created.json()
        assert agent["owner_id"] == str(ALICE) and agent["version"] == 1
        assert created.headers["location"] == f"/api/agents/{agent['id']}"

        by_id = await client.get(f"/api/agents/{agent['id']}", headers=alice)
        by_slug = await client.get("/api/agents/Clarence_Coherence", headers=alice)
        assert by_id.json() == by_slug.json() == agent

        listed = (await client.get("/api/agents", headers=alice)).json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == agent["id"]
        assert (await client.get("/api/agents", headers=bob)).json()["total"] == 0

        # Someone else's agent is indistinguishable from a missing one.
        for method in ("GET", "PATCH", "DELETE"):
            other = await client.request(
                method, f"/api/agents/{agent['id']}", headers=bob, json={"version": 1}
            )
            assert other.status_code == 404, (method, other.text)

        patched = await client.patch(
            f"/api/agents/{agent['id']}", headers=alice, json={"version": 1, "voice": "marin"}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["voice"] == "marin" and patched.json()["version"] == 2

        stale = await client.patch(
            f"/api/agents/{agent['id']}", headers=alice, json={"version": 1, "voice": "ash"}
        )
        assert stale.status_code == 409
        assert stale.headers["content-type"] == "application/problem+json"
        assert stale.json()["current_version"] == 2

        archived = await client.delete(f"/api/agents/{agent['id']}", headers=alice)
        assert archived.status_code == 200 and archived.json()["status"] == "archived"
        assert (await client.get("/api/agents", headers=alice)).json()["total"] == 0
        with_archived = await client.get("/api/agents?include_archived=true", headers=alice)
        assert with_archived.json()["total"] == 1


async def test_the_list_shows_each_agents_last_call_and_calls_this_week(
    any_store_settings: Settings, database_url: str, make_agent: AgentFactory
) -> None:
    called, never = await make_agent(), await make_agent()
    conn = await asyncpg.connect(database_url)
    try:
        for kind, days_ago in (("test", 1), ("live", 3), ("test", 9), ("creation", 0)):
            await conn.execute(
                "insert into public.call_sessions (agent_id, room_name, kind, deployment,"
                " started_at) values ($1, $2, $3, 'test', now() - make_interval(days => $4))",
                called.id,
                f"room-{uuid4().hex}",
                kind,
                days_ago,
            )
        latest = await conn.fetchval(
            "select max(started_at) from public.call_sessions where kind <> 'creation'"
        )
    finally:
        await conn.close()
    async with serving(create_app(any_store_settings, reconcile=False)) as client:
        response = await client.get("/api/agents", headers=as_user(ALICE, any_store_settings))
    assert response.status_code == 200, response.text
    items = {item["id"]: item for item in response.json()["items"]}
    assert items[str(called.id)]["calls_7d"] == 2
    assert datetime.fromisoformat(items[str(called.id)]["last_call_at"]) == latest
    assert (items[str(never.id)]["calls_7d"], items[str(never.id)]["last_call_at"]) == (0, None)


async def test_the_operator_sees_every_owner_and_creates_for_any(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    await make_agent(ALICE)
    await make_agent(BOB)
    assert (await client.get("/api/agents", headers=OPERATOR)).json()["total"] == 2
    only_bob = await client.get(f"/api/agents?owner_id={BOB}", headers=OPERATOR)
    assert only_bob.json()["total"] == 1

    own = await client.post("/api/agents", json=NEW_AGENT, headers=OPERATOR)
    assert own.json()["owner_id"] == str(OPERATOR_OWNER_ID)
    for_bob = await client.post(
        "/api/agents", json={**NEW_AGENT, "owner_id": str(BOB)}, headers=OPERATOR
    )
    assert for_bob.status_code == 201 and for_bob.json()["owner_id"] == str(BOB)


async def test_the_list_searches_in_the_database_within_the_callers_scope(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    # The oldest agent, so 200 newer ones push it off the first page of the list.
    needle = await make_agent(ALICE, name="50%_off Clarence")
    for i in range(200):
        await make_agent(ALICE, name=f"Hay {i}")
    bobs = await make_agent(BOB, name="Bob's 50%_off")
    await make_agent(BOB, name="50 and off")  # what `%_` as wildcards would find

    async def search(headers: dict[str, str], q: str, **params: Any) -> tuple[list[str], int]:
        found = await client.get("/api/agents", params={"q": q, **params}, headers=headers)
        assert found.status_code == 200, found.text
        return [item["id"] for item in found.json()["items"]], found.json()["total"]

    alice = as_user(ALICE)
    first_page = (await client.get("/api/agents?limit=200", headers=alice)).json()
    assert first_page["total"] == 201 and str(needle.id) not in json.dumps(first_page)
    assert await search(alice, "50%_OFF") == ([str(needle.id)], 1)
    # A user's search stays in their own agents, whatever it says.
    assert await search(alice, str(BOB)[:8]) == ([], 0)
    assert await search(as_user(BOB), "clarence") == ([], 0)
    # The operator's spans every owner and also matches an owner id's beginning.
    assert await search(OPERATOR, "50%_off") == ([str(bobs.id), str(needle.id)], 2)
    assert await search(OPERATOR, "50%_off", limit=1, offset=1) == ([str(needle.id)], 2)
    by_owner, total = await search(OPERATOR, str(BOB)[:8].upper())
    assert total == 2 and str(bobs.id) in by_owner
    assert await search(OPERATOR, "hay 19", owner_id=str(BOB)) == ([], 0)
    assert (await search(OPERATOR, "hay 19", owner_id=str(ALICE)))[1] == 1 + 10  # 19, 190..199


@pytest.mark.parametrize(
    ("q", "reason"),
    [("x" * 101, "a search is at most 100 characters"), ("a\x00b", "cannot contain a NUL")],
)
async def test_a_search_too_long_or_with_a_nul_is_refused_naming_q(
    client: httpx.AsyncClient, q: str, reason: str
) -> None:
    refused = await client.get("/api/agents", params={"q": q}, headers=as_user(ALICE))
    assert refused.status_code == 400
    problem = refused.json()
    assert problem["type"] == "urn:voxie:problem:invalid-parameter"
    assert problem["detail"].startswith("query parameter q: ") and reason in problem["detail"]
    fits = await client.get("/api/agents", params={"q": "x" * 100}, headers=as_user(ALICE))
    assert fits.status_code == 200 and fits.json()["total"] == 0


async def test_a_user_cannot_create_for_someone_else_or_list_their_agents(
    client: httpx.AsyncClient,
) -> None:
    alice = as_user(ALICE)
    foreign = await client.post(
        "/api/agents", json={**NEW_AGENT, "owner_id": str(BOB)}, headers=alice
    )
    assert foreign.status_code == 403
    assert (await client.get(f"/api/agents?owner_id={BOB}", headers=alice)).status_code == 403


async def test_a_mistyped_slug_answers_404_with_a_suggestion(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    await make_agent(ALICE, slug="clarence-coherence")
    missed = await client.get("/api/agents/clarence-coherense", headers=as_user(ALICE))
    assert missed.status_code == 404
    assert missed.json()["hint"] == "did you mean 'clarence-coherence'?"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/agents/%25%25%25", 404),  # neither a UUID nor a slug: no agent has it
        (f"/api/agents/{uuid4()}", 404),
        ("/api/agents/3f2b8c1e-9d4a-4b7e-8f00", 404),  # a cut-off UUID is a slug nobody has
        ("/api/agents?limit=0", 400),
        ("/api/agents?limit=abc", 400),
        ("/api/agents?offset=-1", 400),
        ("/api/agents?include_archived=maybe", 400),
        ("/api/agents?owner_id=nope", 400),
    ],
)
async def test_malformed_paths_and_queries(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path, headers=OPERATOR)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["status"] == status and problem["detail"] and problem["request_id"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "JSON body is required"),
        (b"[1, 2]", 422, "JSON object"),
        (b'{"slug": "x"}', 422, "name"),
        (b'{"slug": "ok", "name": "Ok", "voice": "robot"}', 422, "unsupported voice"),
        (b'{"slug": "ok", "name": "Ok", "surprise": 1}', 422, "surprise"),
        (b'{"slug": "ok", "name": "Ok", "status": "active"}', 422, "needs instructions"),
        # A slug the id-or-slug path segment would read as an agent id.
        (b'{"slug": "3f2b8c1e9d4a4b7e8f002a6c5d9e1b44", "name": "Ok"}', 422, "UUID"),
    ],
)
async def test_bad_bodies_are_refused_with_the_reason(
    client: httpx.AsyncClient, body: bytes, status: int, detail: str
) -> None:
    response = await client.post(
        "/api/agents", content=body, headers={**OPERATOR, "Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]


async def test_patch_needs_a_version_and_valid_fields(
    client: httpx.AsyncClient, make_agent: AgentFactory, store: PostgresStore
) -> None:
    agent = await make_agent(ALICE)
    path = f"/api/agents/{agent.id}"
    for body in ({"voice": "ash"}, {"version": 0, "voice": "ash"}, {"version": "1"}):
        response = await client.patch(path, json=body, headers=OPERATOR)
        assert response.status_code == 422, (body, response.text)
    uncoerced: list[dict[str, Any]] = [
        {"version": 1, "name": None},
        {"version": 1.5},
        {"version": 1, "summarize": 1},
    ]
    for wrong in uncoerced:
        response = await client.patch(path, json=wrong, headers=OPERATOR)
        assert response.status_code == 422, (wrong, response.text)  # no null, no coercion
    # Valid on its own, not with what is stored: an active agent needs instructions.
    invalid = await client.patch(path, json={"version": 1, "instructions": ""}, headers=OPERATOR)
    assert invalid.status_code == 409, invalid.text
    assert invalid.json()["type"] == "urn:voxie:problem:invalid-combination"
    assert "needs instructions" in invalid.json()["detail"]
    assert (await store.get_agent(agent.id)).version == 1  # nothing was written


async def test_a_taken_slug_is_a_conflict(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/agents", json=NEW_AGENT, headers=OPERATOR)).status_code == 201
    again = await client.post("/api/agents", json=NEW_AGENT, headers=OPERATOR)
    assert again.status_code == 409 and "taken" in again.json()["detail"]


async def test_an_oversized_body_is_413_before_it_is_read(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    huge = b'{"slug": "x", "name": "' + b"a" * settings.backend_max_body_bytes + b'"}'
    response = await client.post(
        "/api/agents", content=huge, headers={**OPERATOR, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    async def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        for _ in range(settings.backend_max_body_bytes // 1024 + 2):
            yield b" " * 1024

    streamed = await client.post("/api/agents", content=chunks(), headers=OPERATOR)
    assert streamed.status_code == 413


def http_tool(url: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    tool: dict[str, Any] = {"type": "http", "name": "book", "description": "Book.", "url": url}
    if parameters is not None:
        tool["parameters"] = parameters
    return tool


async def insert_poisoned(database_url: str, owner: UUID = ALICE) -> UUID:
    """The row issue 11 found: a tool schema whose number was stored as null."""
    tools = [http_tool("https://93.184.215.14/q", {"type": "object", "maximum": None})]
    conn = await asyncpg.connect(database_url)
    try:
        agent_id: UUID = await conn.fetchval(
            "insert into public.agents (owner_id, slug, name, tools) values ($1, 'poisoned',"
            " 'Poisoned', $2) returning id",
            owner,
            json.dumps(tools),
        )
    finally:
        await conn.close()
    return agent_id


def nested_schema(levels: int) -> str:
    """JSON text (`json.dumps` itself cannot write hundreds of levels)."""
    opening = '{"type": "object", "properties": {"a": '
    return opening * levels + '{"type": "object"}' + "}}" * levels


async def test_a_poisoned_row_breaks_no_list_and_the_operator_can_clear_it(
    any_store_settings: Settings, database_url: str, make_agent: AgentFactory
) -> None:
    good = await make_agent(ALICE)
    bad = await insert_poisoned(database_url)
    alice = as_user(ALICE, any_store_settings)
    async with serving(create_app(any_store_settings, reconcile=False)) as client:
        for headers in (OPERATOR, alice):
            listed = await client.get("/api/agents?include_archived=true", headers=headers)
            assert listed.status_code == 200, listed.text
            assert [a["id"] for a in listed.json()["items"]] == [str(good.id)]
            assert listed.json()["unreadable"] == [str(bad)]
            for path in ("/api/rooms", "/api/stats"):
                assert (await client.get(path, headers=headers)).status_code == 200, path
        metrics = (await client.get("/metrics", headers=OPERATOR)).text
        assert 'voxie_backend_unreadable_rows_total{table="agents"}' in metrics

        # The row cannot be used or changed as a config, by anyone; the answer says why.
        for method in ("GET", "PATCH", "DELETE"):
            refused = await client.request(
                method, f"/api/agents/{bad}", headers=OPERATOR, json={"version": 1}
            )
            assert refused.status_code == 409, (method, refused.text)
            assert refused.json()["type"] == "urn:voxie:problem:agent-unreadable"
            assert refused.json()["agent_id"] == str(bad)

        # The operator's path: read it raw, archive it, delete it. Users may not.
        raw_path = f"/api/agents/{bad}/raw"
        assert (await client.get(raw_path, headers=alice)).status_code == 403
        raw = await client.get(raw_path, headers=OPERATOR)
        assert raw.status_code == 200, raw.text
        assert raw.json()["row"]["tools"][0]["parameters"]["maximum"] is None
        assert "not valid JSON Schema" in raw.json()["problem"]
        archived = await client.patch(raw_path, headers=OPERATOR, json={"status": "archived"})
        assert archived.status_code == 200, archived.text
        assert archived.json()["row"]["status"] == "archived"
        listed = await client.get("/api/agents", headers=OPERATOR)
        assert listed.json()["unreadable"] == []
        assert (await client.delete(raw_path, headers=OPERATOR)).status_code == 204
        assert (await client.get(raw_path, headers=OPERATOR)).status_code == 404
        assert (await client.get(f"/api/agents/{good.id}", headers=alice)).status_code == 200


async def test_the_create_that_poisoned_a_row_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, store: PostgresStore
) -> None:
    for number in ("1e999", "NaN", "Infinity"):
        body = json.dumps({**NEW_AGENT, "tools": []})[:-1]
        body += ', "tools": [' + json.dumps(http_tool("https://93.184.215.14/q"))[:-1]
        body += ', "parameters": {"type": "object", "maximum": ' + number + "}}]}"
        response = await client.post(
            "/api/agents", content=body, headers={**OPERATOR, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text
    assert (await store.list_agents(None, include_archived=True)).total == 0


@pytest.mark.parametrize("levels", [20, 300, 900])
async def test_deeply_nested_tool_schemas_are_422_not_500(
    client: httpx.AsyncClient, store: PostgresStore, levels: int
) -> None:
    # Past the edge's own depth cap the body is 400; below it the contract caps the schema.
    tool = json.dumps(http_tool("https://93.184.215.14/q"))[:-1]
    tool += ', "parameters": ' + nested_schema(levels) + "}"
    body = json.dumps({**NEW_AGENT, "tools": []}).replace('"tools": []', f'"tools": [{tool}]')
    response = await client.post(
        "/api/agents", content=body, headers={**OPERATOR, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "levels deep" in response.json()["detail"]
    assert (await store.list_agents(None, include_archived=True)).total == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/admin", "internal address (127.0.0.1)"),
        ("http://169.254.169.254/latest/meta-data", "internal address (169.254.169.254)"),
        ("https://10.0.0.5/book", "internal address (10.0.0.5)"),
        ("https://[::ffff:10.0.0.5]/book", "internal address"),
        ("https://sneaky.example/book", "'sneaky.example' is an internal address (10.1.2.3)"),
        ("https://nowhere.example/book", "does not resolve"),
    ],
)
async def test_a_tool_on_an_internal_address_is_refused_at_save_time(
    settings: Settings,
    store: PostgresStore,
    make_agent: AgentFactory,
    url: str,
    reason: str,
) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        if host == "sneaky.example":
            return ["93.184.215.14", "10.1.2.3"]
        raise OSError("Name or service not known")

    agent = await make_agent(ALICE)
    async with serving(create_app(settings, reconcile=False, resolve=resolve)) as client:
        body = {**NEW_AGENT, "tools": [http_tool(url)]}
        created = await client.post("/api/agents", json=body, headers=OPERATOR)
        assert created.status_code == 422, created.text
        assert reason in created.json()["detail"] and "tool 'book'" in created.json()["detail"]
        patched = await client.patch(
            f"/api/agents/{agent.id}",
            json={"version": 1, "tools": [http_tool(url)]},
            headers=OPERATOR,
        )
        assert patched.status_code == 422, patched.text
    assert (await store.get_agent(agent.id)).tools == agent.tools
    assert (await store.list_agents(None)).total == 1


async def test_the_api_accepts_public_and_allowlisted_tool_urls_as_voxie_does(
    livekit: LiveKitDouble, database_url: str
) -> None:
    settings = backend_settings(
        livekit, database_url, tool_http_allowlist=["10.20.0.0/16", "crm.lan"]
    )

    async def resolve(host: str, port: int) -> list[str]:
        return {"crm.lan": ["10.99.0.1"], "api.example.com": ["93.184.215.14"]}[host]

    tools = [
        http_tool("https://api.example.com/book"),
        {**http_tool("https://10.20.3.4/x"), "name": "internal_but_allowed"},
        {**http_tool("http://crm.lan/lead"), "name": "crm_by_name"},
    ]
    # The same config passes the shared rule Voxie applies when a tool is added.
    allowlist = settings.tool_http_allowlist
    await check_tool_destinations(
        AgentFields.model_validate({**NEW_AGENT, "tools": tools}).tools,
        allowlist=allowlist,
        resolve=resolve,
    )
    async with serving(create_app(settings, reconcile=False, resolve=resolve)) as client:
        created = await client.post(
            "/api/agents", json={**NEW_AGENT, "tools": tools}, headers=OPERATOR
        )
        assert created.status_code == 201, created.text
