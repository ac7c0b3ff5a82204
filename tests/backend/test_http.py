"""The one JSON reader at the edge: every endpoint that reads JSON refuses what cannot round-trip
(non-finite numbers, 100+ digit integers, U+0000, nesting past the cap) with 400 problem+json,
before anything is acted on — never a 500, never a stored `null`."""

from __future__ import annotations

import httpx
import pytest
from livekit import api

from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, OPERATOR, AgentFactory
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.webhooks import sign_body

AGENT = '{"slug": "poison", "name": "Poison", "tools": [{"type": "http", "name": "quote",'
AGENT += ' "description": "Quote.", "url": "https://93.184.215.14/q", "parameters":'
AGENT += ' {"type": "object", "properties": {"n": {"type": "number", "maximum": %s}}}}]}'

NOT_PORTABLE = {
    "overflowing float": AGENT % "1e999",
    "negative overflow": AGENT % "-1e999",
    "NaN": AGENT % "NaN",
    "Infinity": AGENT % "Infinity",
    "-Infinity": AGENT % "-Infinity",
    "101-digit integer": AGENT % ("1" + "0" * 100),
    "huge integer literal": AGENT % ("9" * 5000),
    "NUL in a string": AGENT.replace('"Poison"', '"Poi\\u0000son"') % "1",
    "unpaired surrogate": AGENT.replace('"Poison"', '"Poi\\ud800son"') % "1",
    "1,000 levels deep": "[" * 1000 + "]" * 1000,
    "100,000 levels deep": "[" * 100_000 + "]" * 100_000,
}


@pytest.fixture
async def json_endpoints(make_agent: AgentFactory) -> list[tuple[str, str]]:
    agent = await make_agent(ALICE)
    return [
        ("POST", "/api/agents"),
        ("PATCH", f"/api/agents/{agent.id}"),
        ("POST", f"/api/agents/{agent.id}/spawn"),
        ("PATCH", f"/api/agents/{agent.id}/raw"),
        ("POST", "/api/voxie/sessions"),
    ]


@pytest.mark.parametrize("body", NOT_PORTABLE.values(), ids=NOT_PORTABLE.keys())
async def test_every_json_endpoint_refuses_json_that_cannot_round_trip(
    client: httpx.AsyncClient,
    store: PostgresStore,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    json_endpoints: list[tuple[str, str]],
    body: str,
) -> None:
    before = await store.list_agents(None, include_archived=True)
    rooms_before = await livekit_api.room.list_rooms(api.ListRoomsRequest())
    for method, path in json_endpoints:
        response = await client.request(
            method, path, content=body, headers={**OPERATOR, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:voxie:problem:invalid-json"
    signed = {"Authorization": sign_body(body, livekit.api_key, livekit.api_secret)}
    hook = await client.post("/api/livekit/webhook", content=body, headers=signed)
    assert hook.status_code == 400, hook.text
    after = await store.list_agents(None, include_archived=True)
    assert after == before  # nothing created, nothing changed
    assert await livekit_api.room.list_rooms(api.ListRoomsRequest()) == rooms_before


async def test_the_refusal_says_what_is_wrong(client: httpx.AsyncClient) -> None:
    headers = {**OPERATOR, "Content-Type": "application/json"}
    cases = {
        AGENT % "1e999": "must be finite",
        AGENT % "NaN": "must be finite",
        AGENT % ("9" * 101): "integers have at most 100 digits",
        "[" * 40 + "]" * 40: "nested more than 32 levels",
    }
    for body, reason in cases.items():
        response = await client.post("/api/agents", content=body, headers=headers)
        assert reason in response.json()["detail"], response.text


@pytest.mark.parametrize(
    ("method", "path", "echoed"),
    [
        ("GET", "/api/agents/%00ab%1b[31m", False),  # read as a slug: normalised, not echoed
        ("POST", "/api/agents/%00ab%1b[31m/spawn", False),
        ("GET", "/api/sessions?agent_id=%00ab%1b[31m", True),
        ("POST", "/api/rooms/agent-%00ab%1b[31m/close", True),
    ],
)
async def test_a_refused_value_is_echoed_escaped_never_raw(
    client: httpx.AsyncClient, method: str, path: str, echoed: bool
) -> None:
    response = await client.request(method, path, headers=OPERATOR)
    assert 400 <= response.status_code < 500
    detail = response.json()["detail"]
    assert not any(ch in detail for ch in "\x00\x1b")
    assert ("\\x00ab\\x1b[31m" in detail) is echoed
