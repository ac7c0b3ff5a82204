"""API keys through the API (issue 24): minted once for a signed-in user, kept as a keyed hash,
acting as their owner on owner routes only (never the operator's, never key management), capped
per owner, refused the moment they are revoked, and refused (503) by a backend without hash
keys."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from backend.app import create_app
from backend.routes.api_keys import KEYS_NEED_SIGN_IN
from shared.contracts.api_keys import KEY_PATTERN, MAX_API_KEYS_PER_OWNER
from shared.secret_box import new_key, parse_key
from shared.settings import Settings
from tests.backend.conftest import ALICE, BOB, OPERATOR, as_user, backend_settings, bearer, serving
from tests.backend.test_agents import NEW_AGENT
from tests.support.livekit import LiveKitDouble

HASH_KEY = new_key()


@pytest.fixture
def settings(livekit: LiveKitDouble, database_url: str) -> Settings:
    return backend_settings(livekit, database_url, api_key_hash_keys=[HASH_KEY])


async def mint(client: httpx.AsyncClient, headers: dict[str, str], name: str = "crm-sync") -> Any:
    created = await client.post("/api/keys", json={"name": name}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_key_is_shown_once_and_stored_as_its_keyed_hash(
    client: httpx.AsyncClient, database_url: str
) -> None:
    created = await client.post("/api/keys", json={"name": "crm-sync"}, headers=as_user(ALICE))
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert re.fullmatch(KEY_PATTERN, key)
    assert body["prefix"] == key[:12] and body["name"] == "crm-sync"
    assert body["last_used_at"] is None and body["created_at"]
    assert created.headers["location"] == f"/api/keys/{body['id']}"

    listed = await client.get("/api/keys", headers=as_user(ALICE))
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item == {k: v for k, v in body.items() if k != "key"}
    assert key not in listed.text

    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchval("select row_to_json(k)::text from public.api_keys k")
        stored = await conn.fetchval("select key_hash from public.api_keys")
    finally:
        await conn.close()
    assert key not in row and key[12:] not in row
    assert stored == hmac.new(parse_key(HASH_KEY), key.encode(), hashlib.sha256).hexdigest()


async def test_a_key_acts_as_its_owner_on_owner_routes_only(client: httpx.AsyncClient) -> None:
    key = bearer((await mint(client, as_user(ALICE)))["key"])
    mine = await client.post("/api/agents", json=NEW_AGENT, headers=key)
    assert mine.status_code == 201, mine.text
    assert mine.json()["owner_id"] == str(ALICE)
    bobs = await client.post("/api/agents", json=NEW_AGENT, headers=as_user(BOB))
    assert bobs.status_code == 201

    me = await client.get("/api/me", headers=key)
    assert me.json() == {"user_id": str(ALICE), "operator": False, "owner_id": str(ALICE)}
    listed = await client.get("/api/agents", headers=key)
    assert [a["id"] for a in listed.json()["items"]] == [mine.json()["id"]]
    assert (await client.get(f"/api/agents/{mine.json()['id']}", headers=key)).status_code == 200
    other = await client.get(f"/api/agents/{bobs.json()['id']}", headers=key)
    assert other.status_code == 404  # as it is for Alice signed in
    assert (
        await client.get(f"/api/agents/{bobs.json()['id']}", headers=as_user(ALICE))
    ).status_code == 404

    for method, url in [
        ("POST", "/api/gc"),
        ("GET", "/metrics"),
        ("GET", f"/api/owners/{ALICE}/egress"),
        ("GET", f"/api/agents/{mine.json()['id']}/raw"),
    ]:
        refused = await client.request(method, url, headers=key)
        assert refused.status_code == 403, (method, url, refused.text)
        assert refused.json()["detail"] == "this endpoint is for the operator token only"


async def test_a_key_cannot_list_mint_or_revoke_keys(client: httpx.AsyncClient) -> None:
    created = await mint(client, as_user(ALICE))
    key = bearer(created["key"])
    for method, url, body in [
        ("GET", "/api/keys", None),
        ("POST", "/api/keys", {"name": "successor"}),
        ("DELETE", f"/api/keys/{created['id']}", None),
    ]:
        refused = await client.request(method, url, json=body, headers=key)
        assert refused.status_code == 403, (method, refused.text)
        assert refused.json()["detail"] == KEYS_NEED_SIGN_IN
    assert len((await client.get("/api/keys", headers=as_user(ALICE))).json()["items"]) == 1


async def test_revoking_refuses_the_key_at_once_and_only_its_owner_or_the_operator_may(
    client: httpx.AsyncClient,
) -> None:
    created = await mint(client, as_user(ALICE))
    key = bearer(created["key"])
    assert (await client.get("/api/agents", headers=key)).status_code == 200
    by_bob = await client.delete(f"/api/keys/{created['id']}", headers=as_user(BOB))
    assert by_bob.status_code == 404
    assert (await client.get("/api/agents", headers=key)).status_code == 200

    revoked = await client.delete(f"/api/keys/{created['id']}", headers=as_user(ALICE))
    assert revoked.status_code == 204
    refused = await client.get("/api/agents", headers=key)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "the API key is not valid: it was revoked, or never issued"
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert created["key"] not in refused.text
    again = await client.delete(f"/api/keys/{created['id']}", headers=as_user(ALICE))
    assert again.status_code == 404

    # The operator revokes a user's key (one that leaked), after finding it in their list.
    second = await mint(client, as_user(ALICE), "billing")
    listed = await client.get(f"/api/keys?owner_id={ALICE}", headers=OPERATOR)
    assert [k["id"] for k in listed.json()["items"]] == [second["id"]]
    assert (
        await client.get(f"/api/keys?owner_id={ALICE}", headers=as_user(BOB))
    ).status_code == 403
    assert (await client.delete(f"/api/keys/{second['id']}", headers=OPERATOR)).status_code == 204
    assert (await client.get("/api/me", headers=bearer(second["key"]))).status_code == 401


async def test_an_owner_has_at_most_the_cap_of_keys_and_the_operator_mints_none(
    client: httpx.AsyncClient,
) -> None:
    for n in range(MAX_API_KEYS_PER_OWNER):
        await mint(client, as_user(ALICE), f"key-{n}")
    refused = await client.post("/api/keys", json={"name": "one-more"}, headers=as_user(ALICE))
    assert refused.status_code == 409
    assert f"at most {MAX_API_KEYS_PER_OWNER} API keys" in refused.json()["detail"]
    await mint(client, as_user(BOB), "one-more")  # per owner

    by_operator = await client.post("/api/keys", json={"name": "ops"}, headers=OPERATOR)
    assert by_operator.status_code == 403
    assert "operator's token already reaches every route" in by_operator.json()["detail"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "1 to 64 letters"), (" crm", "starting with a letter or digit"), ("x" * 65, "64")],
)
async def test_a_bad_name_is_refused_with_what_to_fix(
    client: httpx.AsyncClient, name: str, problem: str
) -> None:
    refused = await client.post("/api/keys", json={"name": name}, headers=as_user(ALICE))
    assert refused.status_code == 422
    assert problem in refused.json()["detail"]


async def test_a_malformed_or_unknown_key_is_401_and_never_echoed(
    client: httpx.AsyncClient,
) -> None:
    created = await mint(client, as_user(ALICE))
    for token, detail in [
        ("vx_live_short", "the API key is malformed"),
        (created["key"][:-1] + ("A" if created["key"][-1] != "A" else "B"), "not valid"),
    ]:
        refused = await client.get("/api/agents", headers=bearer(token))
        assert refused.status_code == 401
        assert detail in refused.json()["detail"] and token not in refused.text


async def test_without_hash_keys_minting_and_keys_answer_503(
    livekit: LiveKitDouble, database_url: str, client: httpx.AsyncClient
) -> None:
    created = await mint(client, as_user(ALICE))  # by a replica that has the hash key
    async with serving(
        create_app(backend_settings(livekit, database_url), reconcile=False)
    ) as unconfigured:
        refused = await unconfigured.post("/api/keys", json={"name": "x"}, headers=as_user(ALICE))
        assert refused.status_code == 503
        assert "API_KEY_HASH_KEYS" in refused.json()["detail"]
        with_key = await unconfigured.get("/api/agents", headers=bearer(created["key"]))
        assert with_key.status_code == 503 and "API_KEY_HASH_KEYS" in with_key.json()["detail"]
        # Listing and revoking need no hash key: a leaked key can always be revoked.
        listed = await unconfigured.get("/api/keys", headers=as_user(ALICE))
        assert [k["id"] for k in listed.json()["items"]] == [created["id"]]
        revoked = await unconfigured.delete(f"/api/keys/{created['id']}", headers=as_user(ALICE))
        assert revoked.status_code == 204


async def test_last_used_shows_in_the_list_after_a_request(client: httpx.AsyncClient) -> None:
    created = await mint(client, as_user(ALICE))
    assert (await client.get("/api/agents", headers=bearer(created["key"]))).status_code == 200
    [item] = (await client.get("/api/keys", headers=as_user(ALICE))).json()["items"]
    assert item["last_used_at"] is not None


async def test_mint_use_and_revoke_through_either_store(any_store_settings: Settings) -> None:
    settings = any_store_settings.model_copy(update={"api_key_hash_keys": [SecretStr(HASH_KEY)]})
    async with serving(create_app(settings, reconcile=False)) as client:
        alice = as_user(ALICE, settings)
        created = await mint(client, alice)
        key = bearer(created["key"])
        made = await client.post("/api/agents", json=NEW_AGENT, headers=key)
        assert made.status_code == 201 and made.json()["owner_id"] == str(ALICE)
        [listed] = (await client.get("/api/keys", headers=alice)).json()["items"]
        assert listed["id"] == created["id"] and listed["last_used_at"] is not None
        assert (await client.delete(f"/api/keys/{created['id']}", headers=alice)).status_code == 204
        assert (await client.get("/api/agents", headers=key)).status_code == 401
