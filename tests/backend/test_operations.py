"""The API as its operations declare it: every path answers 405 with every method it supports in
`Allow`, bodies of the wrong JSON type are refused rather than coerced, DELETE leaves the agent
gone from its URL, and the document carries what the handlers check (issue 11.9's drift list)."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from tests.backend.conftest import ALICE, OPERATOR, AgentFactory, as_user


async def test_a_405_names_every_method_of_the_path(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    agent = await make_agent(ALICE)
    cases = {
        "/api/agents": {"GET", "HEAD", "POST"},
        f"/api/agents/{agent.id}": {"GET", "HEAD", "PATCH", "DELETE"},
        f"/api/agents/{agent.id}/raw": {"GET", "HEAD", "PATCH", "DELETE"},
        "/metrics": {"GET", "HEAD"},
    }
    for path, methods in cases.items():
        response = await client.request("PUT", path, headers=OPERATOR)
        assert response.status_code == 405, path
        assert set(response.headers["allow"].split(", ")) == methods, path
        assert response.headers["content-type"] == "application/problem+json"


async def test_bodies_of_the_wrong_type_are_refused_not_coerced(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    agent = await make_agent(ALICE)
    json_headers = {**OPERATOR, "Content-Type": "application/json"}
    cases: list[tuple[str, str, bytes]] = [
        ("POST", "/api/voxie/sessions", b"null"),
        ("POST", "/api/voxie/sessions", b'"x"'),
        ("POST", "/api/voxie/sessions", b'{"owner_id": 5}'),
        ("POST", f"/api/agents/{agent.id}/spawn", b"[1, 2]"),
        ("POST", f"/api/agents/{agent.id}/spawn", b'{"surprise": true}'),
        ("POST", "/api/agents", b'{"slug": "ok", "name": "Ok", "summarize": "true"}'),
        ("POST", "/api/agents", b'{"slug": "ok", "name": 5}'),
        ("PATCH", f"/api/agents/{agent.id}", b'{"version": "1"}'),
        ("PATCH", f"/api/agents/{agent.id}", b'{"version": 1, "voice": null}'),
    ]
    for method, path, body in cases:
        response = await client.request(method, path, content=body, headers=json_headers)
        assert response.status_code == 422, (method, path, body, response.text)
    # A whole number written as 1.0 is an integer to JSON Schema, and so to the API.
    accepted = await client.patch(
        f"/api/agents/{agent.id}", content=b'{"version": 1.0, "voice": "ash"}', headers=json_headers
    )
    assert accepted.status_code == 200, accepted.text


async def test_after_delete_the_agent_is_gone_from_its_url_but_listed_as_archived(
    client: httpx.AsyncClient, make_agent: AgentFactory
) -> None:
    agent = await make_agent(ALICE)
    alice = as_user(ALICE)
    path = f"/api/agents/{agent.id}"
    assert (await client.delete(path, headers=alice)).json()["status"] == "archived"
    again = await client.delete(path, headers=alice)  # idempotent
    assert again.status_code == 200 and again.json()["status"] == "archived"
    assert (await client.get(path, headers=alice)).status_code == 404
    patched = await client.patch(path, json={"version": 2, "status": "active"}, headers=alice)
    assert patched.status_code == 404
    listed = await client.get("/api/agents?include_archived=true", headers=alice)
    assert [a["id"] for a in listed.json()["items"]] == [str(agent.id)]


def test_the_document_carries_the_rules_the_handlers_check(app: Starlette) -> None:
    document: dict[str, Any] = app.state.openapi
    schemas = document["components"]["schemas"]
    slug = schemas["AgentCreate"]["properties"]["slug"]
    assert slug["pattern"] == "^[a-z0-9]+(?:-[a-z0-9]+)*$" and slug["maxLength"] == 63
    assert "not" in slug  # a slug never looks like a UUID
    update = schemas["AgentUpdate"]["properties"]
    assert all("null" not in str(prop) for name, prop in update.items()), update
    assert schemas["AgentCreate"]["then"]["required"] == ["instructions"]
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    delete = document["paths"]["/api/agents/{agent_id}"]["delete"]
    assert delete["summary"] == "archive an agent" and "404" in delete["description"]
    listing = document["paths"]["/api/agents"]["get"]
    assert {"400", "401", "403", "503"} <= set(listing["responses"])
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}


def test_every_reference_in_the_document_resolves(app: Starlette) -> None:
    # A parameter typed by an enum (group_by, kind) once carried pydantic's own `#/$defs/...`
    # reference, which points nowhere in an OpenAPI document.
    document: dict[str, Any] = app.state.openapi
    schemas = document["components"]["schemas"]

    def refs(value: Any) -> list[str]:
        if isinstance(value, dict):
            own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
            return own + [r for v in value.values() for r in refs(v)]
        if isinstance(value, list):
            return [r for v in value for r in refs(v)]
        return []

    found = refs(document["paths"]) + refs(schemas)
    assert found  # the responses do reference their models
    unresolved = [r for r in found if r.removeprefix("#/components/schemas/") not in schemas]
    assert not unresolved
    group_by = next(
        p
        for p in document["paths"]["/api/agents/{agent_id}/analytics"]["get"]["parameters"]
        if p["name"] == "group_by"
    )
    assert group_by["schema"] == {
        "enum": ["version", "day"],
        "type": "string",
        "default": "version",
    }


def test_every_operation_that_reads_a_body_documents_the_415(app: Starlette) -> None:
    paths: dict[str, Any] = app.state.openapi["paths"]
    with_body = [
        (path, method, operation)
        for path, methods in paths.items()
        for method, operation in methods.items()
        if "requestBody" in operation
    ]
    assert len(with_body) >= 8  # agents, versions, spawn, rollback, voxie, webhook, raw
    for path, method, operation in with_body:
        assert "415" in operation["responses"], (method, path)
        assert list(operation["responses"]["415"]["content"]) == ["application/problem+json"]
    for path, methods in paths.items():
        for method, operation in methods.items():
            if "requestBody" not in operation:
                assert "415" not in operation["responses"], (method, path)
