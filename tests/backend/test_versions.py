"""Agent versions through the API, on either store: publish, list, get, diff, rollback, test
calls of a version or the draft, and a problem document for every step that cannot be taken."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from livekit import api

from backend.app import create_app
from shared.contracts.dispatch import DispatchMetadata
from shared.settings import Settings
from tests.backend.conftest import ALICE, BOB, OPERATOR, AgentFactory, as_user, serving

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == f"urn:voxie:problem:{code}", body
    return body


async def test_publish_list_get_diff_and_rollback_through_either_store(
    any_store_settings: Settings,
) -> None:
    alice = as_user(ALICE, any_store_settings)
    async with serving(create_app(any_store_settings, reconcile=False)) as client:
        created = await client.post(
            "/api/agents",
            json={
                "slug": "clarence",
                "name": "Clarence",
                "instructions": "Answer the phone.",
                "greeting": "Hello, version one.",
                "status": "active",
            },
            headers=alice,
        )
        agent = created.json()
        assert agent["published_version"] == 1 and agent["has_unpublished_changes"] is False

        edited = await client.patch(
            "/api/agents/clarence",
            json={"greeting": "Hello, version two.", "version": agent["version"]},
            headers=alice,
        )
        assert edited.json()["has_unpublished_changes"] is True
        assert edited.json()["published_version"] == 1

        diff = await client.get("/api/agents/clarence/versions/1/diff/draft", headers=alice)
        assert diff.status_code == 200, diff.text
        assert diff.json()["changes"] == [
            {"field": "greeting", "a": "Hello, version one.", "b": "Hello, version two."}
        ]

        published = await client.post(
            "/api/agents/clarence/versions", json={"note": "warmer"}, headers=alice
        )
        assert published.status_code == 201, published.text
        version = published.json()
        assert version["version"] == 2 and version["note"] == "warmer"
        assert version["published_by"] == f"user:{ALICE}"
        assert version["config"]["greeting"] == "Hello, version two."
        assert published.headers["location"] == f"/api/agents/{agent['id']}/versions/2"
        now = (await client.get(f"/api/agents/{agent['id']}", headers=alice)).json()
        assert now["published_version"] == 2 and now["has_unpublished_changes"] is False

        listed = (await client.get("/api/agents/clarence/versions?limit=1", headers=alice)).json()
        assert [v["version"] for v in listed["items"]] == [2] and listed["total"] == 2
        older = await client.get("/api/agents/clarence/versions?offset=1", headers=alice)
        assert [v["version"] for v in older.json()["items"]] == [1]
        one = (await client.get("/api/agents/clarence/versions/1", headers=alice)).json()
        assert one["config"]["greeting"] == "Hello, version one."
        same = await client.get("/api/agents/clarence/versions/2/diff/draft", headers=alice)
        assert same.json()["changes"] == []

        rolled = await client.post(
            "/api/agents/clarence/rollback", json={"version": 1}, headers=alice
        )
        assert rolled.status_code == 200, rolled.text
        assert rolled.json()["published_version"] == 1
        assert rolled.json()["greeting"] == "Hello, version two."  # the draft stays
        assert rolled.json()["has_unpublished_changes"] is True


async def test_every_step_that_cannot_be_taken_is_a_problem(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    alice = as_user(ALICE)
    agent = await make_agent(ALICE, slug="clarence")
    base = f"/api/agents/{agent.id}"

    body = problem(await client.post(f"{base}/versions", headers=alice), 409, "nothing-to-publish")
    assert body["published_version"] == 1
    problem(
        await client.post(f"{base}/rollback", json={"version": 9}, headers=alice), 404, "not-found"
    )
    problem(await client.get(f"{base}/versions/9", headers=alice), 404, "not-found")
    problem(await client.get(f"{base}/versions/9/diff/draft", headers=alice), 404, "not-found")
    for bad in ("two", "0", "1.5", "-1"):
        problem(await client.get(f"{base}/versions/{bad}", headers=alice), 400, "invalid-parameter")
        problem(
            await client.get(f"{base}/versions/{bad}/diff/draft", headers=alice),
            400,
            "invalid-parameter",
        )
        problem(
            await client.post(f"{base}/spawn?version={bad}", headers=alice),
            400,
            "invalid-parameter",
        )
    for bad_body in ({"version": "1"}, {"version": 0}, {}, {"version": 1, "extra": 1}):
        problem(
            await client.post(f"{base}/rollback", json=bad_body, headers=alice), 422, "invalid-body"
        )
    problem(
        await client.post(f"{base}/versions", json={"note": "x" * 501}, headers=alice),
        422,
        "invalid-body",
    )

    # Another user's agent is a missing one, for every versions endpoint.
    bob = as_user(BOB)
    for method, url, payload in (
        ("GET", f"{base}/versions", None),
        ("GET", f"{base}/versions/1", None),
        ("GET", f"{base}/versions/1/diff/draft", None),
        ("POST", f"{base}/versions", {}),
        ("POST", f"{base}/rollback", {"version": 1}),
        ("POST", f"{base}/spawn?version=draft", None),
    ):
        problem(await client.request(method, url, json=payload, headers=bob), 404, "not-found")

    # A draft that would not run cannot be published.
    draft = await make_agent(ALICE, slug="unfinished", status="draft", instructions="")
    problem(
        await client.post(f"/api/agents/{draft.id}/versions", headers=alice), 409, "draft-invalid"
    )
    # Archiving stops all of it.
    assert (await client.delete(base, headers=alice)).status_code == 200
    for method, url, payload in (
        ("GET", f"{base}/versions", None),
        ("GET", f"{base}/versions/1", None),
        ("POST", f"{base}/versions", {}),
        ("POST", f"{base}/rollback", {"version": 1}),
    ):
        problem(await client.request(method, url, json=payload, headers=alice), 404, "not-found")
    problem(await client.post(f"{base}/spawn?version=1", headers=alice), 409, "agent-archived")


async def test_spawn_runs_the_published_version_or_the_version_or_draft_it_names(
    client: httpx.AsyncClient,
    livekit_api: api.LiveKitAPI,
    make_agent: AgentFactory,
) -> None:
    alice = as_user(ALICE)
    agent = await make_agent(ALICE, slug="clarence")
    edited = await client.patch(
        f"/api/agents/{agent.id}", json={"greeting": "new", "version": agent.version}, headers=alice
    )
    assert (await client.post(f"/api/agents/{agent.id}/versions", headers=alice)).status_code == 201

    async def spawn(suffix: str) -> tuple[object, DispatchMetadata]:
        response = await client.post(f"/api/agents/clarence/spawn{suffix}", headers=alice)
        assert response.status_code == 201, response.text
        [dispatch] = await livekit_api.agent_dispatch.list_dispatch(response.json()["room_name"])
        metadata = DispatchMetadata.parse(dispatch.metadata)
        assert metadata is not None
        return response.json()["version"], metadata

    plain, metadata = await spawn("")
    assert plain == 2 and metadata.version == 2
    older, metadata = await spawn("?version=1")
    assert older == 1 and metadata.version == 1
    draft, metadata = await spawn("?version=draft")
    assert draft == "draft" and metadata.version == "draft"
    # The draft goes with the row version it was at: the spawner never runs an older draft.
    assert metadata.agent_version == edited.json()["version"]
    problem(
        await client.post("/api/agents/clarence/spawn?version=3", headers=alice), 404, "not-found"
    )


async def test_a_draft_agent_runs_only_its_draft_and_the_operator_may_test_any_version(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    draft = await make_agent(ALICE, slug="unfinished", status="draft")
    for suffix in ("", "?version=1"):
        problem(
            await client.post(f"/api/agents/{draft.id}/spawn{suffix}", headers=as_user(ALICE)),
            409,
            "agent-not-active",
        )
    # Its working draft is heard before it is activated (the dashboard's "Test draft").
    tested = await client.post(
        f"/api/agents/{draft.id}/spawn?version=draft", headers=as_user(ALICE)
    )
    assert tested.status_code == 201, tested.text
    assert tested.json()["version"] == "draft"
    agent = await make_agent(ALICE, slug="clarence")
    response = await client.post(f"/api/agents/{agent.id}/spawn?version=1", headers=OPERATOR)
    assert response.status_code == 201 and response.json()["version"] == 1


@pytest.mark.parametrize("who", ["operator", "owner"])
async def test_who_published_and_rolled_back_is_recorded(
    who: str, client: httpx.AsyncClient, make_agent: AgentFactory, database_url: str
) -> None:
    headers = OPERATOR if who == "operator" else as_user(ALICE)
    expected = "operator" if who == "operator" else f"user:{ALICE}"
    agent = await make_agent(ALICE, slug="clarence")
    await client.patch(
        f"/api/agents/{agent.id}", json={"greeting": "b", "version": agent.version}, headers=headers
    )
    published = await client.post(f"/api/agents/{agent.id}/versions", headers=headers)
    assert published.json()["published_by"] == expected
    rolled = await client.post(
        f"/api/agents/{agent.id}/rollback", json={"version": 1}, headers=headers
    )
    assert rolled.status_code == 200, rolled.text
    db = await asyncpg.connect(database_url)
    try:
        [entry] = await db.fetch("select * from public.agent_rollbacks")
    finally:
        await db.close()
    assert (entry["from_version"], entry["to_version"]) == (2, 1)
    assert entry["rolled_back_by"] == expected and entry["rolled_back_at"] is not None
