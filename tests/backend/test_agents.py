"""Agents CRUD over HTTP, through both stores: ownership, slugs, versions, bad input."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from backend.app import create_app
from shared.contracts.dispatch import OPERATOR_OWNER_ID
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, BOB, OPERATOR, AgentFactory, as_user, serving

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
        ("/api/agents/%25%25%25", 400),  # neither a UUID nor a slug
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
    invalid = await client.patch(path, json={"version": 1, "instructions": ""}, headers=OPERATOR)
    assert invalid.status_code == 422  # an active agent needs instructions
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
