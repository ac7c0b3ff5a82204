"""`GET /api/catalog`: the choices a form offers are exactly what the API accepts."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from tests.backend.conftest import ALICE, OPERATOR, as_user


async def test_the_catalog_lists_what_the_agent_schema_accepts(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    response = await client.get("/api/catalog", headers=as_user(ALICE))
    assert response.status_code == 200, response.text
    catalog: dict[str, Any] = response.json()
    # The same lists the document states for the bodies the API validates.
    schemas = app.state.openapi["components"]["schemas"]
    create = schemas["AgentCreate"]["properties"]
    assert [v["name"] for v in catalog["voices"]] == create["voice"]["enum"]
    assert catalog["models"] == create["model"]["enum"]
    assert catalog["pipelines"] == schemas["Pipeline"]["enum"]
    assert catalog["tool_methods"] == schemas["HttpTool"]["properties"]["method"]["enum"]
    assert catalog["default_voice"] == create["voice"]["default"]
    assert catalog["default_model"] == create["model"]["default"]
    assert catalog["default_pipeline"] == "realtime"
    assert all(v["description"] for v in catalog["voices"])
    # Every caller gets the same lists; nobody without a token.
    assert (await client.get("/api/catalog", headers=OPERATOR)).json() == catalog
    assert (await client.get("/api/catalog")).status_code == 401


async def test_an_agent_made_of_the_last_choices_is_accepted(client: httpx.AsyncClient) -> None:
    catalog = (await client.get("/api/catalog", headers=as_user(ALICE))).json()
    body = {
        "slug": "chooser",
        "name": "Chooser",
        "voice": catalog["voices"][-1]["name"],
        "model": catalog["models"][-1],
        "pipeline": catalog["pipelines"][-1],
    }
    created = await client.post("/api/agents", json=body, headers=as_user(ALICE))
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in body} == body
