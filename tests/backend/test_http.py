"""The one JSON reader at the edge: every endpoint that reads JSON refuses what cannot round-trip
(non-finite numbers, 100+ digit integers, U+0000, nesting past the cap) with 400 problem+json,
and a body not sent as JSON with 415, before anything is acted on — never a 500, never a stored
`null`."""

from __future__ import annotations

import json
from uuid import UUID

import httpx
import pytest
from livekit import api
from livekit.protocol import models, webhook

from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, OPERATOR, AgentFactory, as_user
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.webhooks import encode_event, signed_headers

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
    signed = signed_headers(body, livekit.api_key, livekit.api_secret)
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


HOOK = "/api/livekit/webhook"
NOT_JSON = {
    "text/plain": {"Content-Type": "text/plain"},
    "text/plain with charset": {"Content-Type": "text/plain; charset=utf-8"},
    "application/xml": {"Content-Type": "application/xml"},
    "a form": {"Content-Type": "application/x-www-form-urlencoded"},
    "multipart": {"Content-Type": "multipart/form-data; boundary=x"},
    "text/json": {"Content-Type": "text/json"},
    "a bare +json": {"Content-Type": "application/+json"},
    "none": {},
}


@pytest.mark.parametrize("headers", NOT_JSON.values(), ids=NOT_JSON.keys())
async def test_every_json_endpoint_refuses_a_body_not_sent_as_json_with_415(
    client: httpx.AsyncClient,
    store: PostgresStore,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    make_agent: AgentFactory,
    headers: dict[str, str],
) -> None:
    agent = await make_agent(ALICE)
    # Bodies each endpoint would take as JSON: only their content type is wrong.
    requests = [
        ("POST", "/api/agents", {"slug": "sent-as-text", "name": "Text"}),
        ("PATCH", f"/api/agents/{agent.id}", {"version": agent.version, "name": "Renamed"}),
        ("POST", f"/api/agents/{agent.id}/spawn", {}),
        ("PATCH", f"/api/agents/{agent.id}/raw", {"status": "archived"}),
        ("POST", f"/api/agents/{agent.id}/versions", {"note": "first"}),
        ("POST", f"/api/agents/{agent.id}/rollback", {"version": 1}),
        ("POST", "/api/voxie/sessions", {}),
    ]
    before = await store.list_agents(None, include_archived=True)
    rooms_before = await livekit_api.room.list_rooms(api.ListRoomsRequest())
    versions_before = await versions_of(client, agent.id)
    for method, path, sent in requests:
        response = await client.request(
            method, path, content=json.dumps(sent), headers={**OPERATOR, **headers}
        )
        assert_refused_as_not_json(response, method, path)
    event = webhook.WebhookEvent(event="room_finished", id="EV_notjson")
    event.room.CopyFrom(models.Room(name=f"agent-{agent.id}-notjson01", sid="RM_notjson"))
    body = encode_event(event)
    signed = signed_headers(body, livekit.api_key, livekit.api_secret)
    hook = await client.post(
        HOOK, content=body, headers={"Authorization": signed["Authorization"], **headers}
    )
    assert_refused_as_not_json(hook, "POST", HOOK)
    # Nothing was acted on: no agent created or changed, no version, no room.
    assert await store.list_agents(None, include_archived=True) == before
    assert await versions_of(client, agent.id) == versions_before
    assert await livekit_api.room.list_rooms(api.ListRoomsRequest()) == rooms_before


async def versions_of(client: httpx.AsyncClient, agent_id: UUID) -> object:
    return (await client.get(f"/api/agents/{agent_id}/versions", headers=OPERATOR)).json()


def assert_refused_as_not_json(response: httpx.Response, method: str, path: str) -> None:
    assert response.status_code == 415, (method, path, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:voxie:problem:unsupported-media-type"
    assert problem["expected"] == "application/json"
    assert "Content-Type: application/json" in problem["detail"]


async def test_json_under_any_of_its_names_and_bodiless_posts_are_taken(
    client: httpx.AsyncClient, livekit: LiveKitDouble, make_agent: AgentFactory
) -> None:
    spellings = [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON ;charset=UTF-8",
        "application/merge-patch+json",
    ]
    for number, content_type in enumerate(spellings):
        body = json.dumps({"slug": f"json-{number}", "name": "Json"})
        created = await client.post(
            "/api/agents", content=body, headers={**OPERATOR, "Content-Type": content_type}
        )
        assert created.status_code == 201, (content_type, created.text)
    # LiveKit's own type for its webhooks.
    event = webhook.WebhookEvent(event="room_started", id="EV_json")
    event.room.CopyFrom(models.Room(name="voxie-creation-json0001", sid="RM_json"))
    body = encode_event(event)
    hook = await client.post(
        HOOK, content=body, headers=signed_headers(body, livekit.api_key, livekit.api_secret)
    )
    assert hook.status_code == 200, hook.text
    # No body is no body, whatever the Content-Type says (voxiectl and curl send none).
    agent = await make_agent(ALICE)
    for headers in ({}, {"Content-Type": "text/plain"}):
        for path, auth in (
            (f"/api/agents/{agent.id}/spawn", OPERATOR),
            ("/api/voxie/sessions", as_user(ALICE)),
        ):
            answer = await client.post(path, headers={**auth, **headers})
            assert answer.status_code == 201, (path, headers, answer.text)
