"""Event webhook endpoints through the API (issue 24): per owner (an API key may manage them),
the signing secret shown once and stored sealed, the HTTP tools' outbound guard at save, the
secret rotated, the delivery log newest first in pages."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from backend.app import create_app
from shared.contracts import NewCallSession, SessionKind
from shared.contracts.webhooks import secret_name
from shared.secret_box import SecretBox, new_key
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, BOB, OPERATOR, as_user, backend_settings, bearer, serving
from tests.support.livekit import LiveKitDouble

KEY = new_key()
HASH_KEY = new_key()
HOOK = {"url": "https://crm.example/hooks/voxie", "events": ["call.started", "call.ended"]}


async def resolve(host: str, port: int) -> list[str]:
    return {"intranet.example": ["10.0.0.7"]}.get(host, ["93.184.215.14"])


@pytest.fixture
def settings(livekit: LiveKitDouble, database_url: str) -> Settings:
    return backend_settings(
        livekit,
        database_url,
        secrets_keys=[KEY],
        api_key_hash_keys=[HASH_KEY],
        tool_http_allowlist=["127.0.0.1"],
    )


@pytest.fixture
async def client(settings: Settings) -> Any:
    async with serving(create_app(settings, reconcile=False, resolve=resolve)) as running:
        yield running


async def start_call(store: PostgresStore, owner: UUID) -> UUID:
    """A call's session row opened, as the backend opens it with the room."""
    session = await store.start_session(
        NewCallSession(
            agent_id=None,
            owner_id=owner,
            room_name=f"agent-{uuid4()}-abcdefgh",
            kind=SessionKind.TEST,
            deployment="test",
        )
    )
    return session.id


async def add(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    created = await client.post("/api/webhooks", json={**HOOK, **body}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def test_the_secret_is_shown_once_and_stored_sealed(
    client: httpx.AsyncClient, database_url: str
) -> None:
    body = await add(client, as_user(ALICE))
    secret = body["secret"]
    assert secret.startswith("whsec_") and body["enabled"] and body["disabled_reason"] is None
    assert body["events"] == HOOK["events"] and body["url"] == HOOK["url"]

    listed = await client.get("/api/webhooks", headers=as_user(ALICE))
    assert listed.json()["items"] == [{k: v for k, v in body.items() if k != "secret"}]
    one = await client.get(f"/api/webhooks/{body['id']}", headers=as_user(ALICE))
    assert secret not in one.text and secret not in listed.text
    conn = await asyncpg.connect(database_url)
    try:
        sealed = await conn.fetchval("select secret_sealed from public.webhook_endpoints")
    finally:
        await conn.close()
    assert secret not in sealed
    box = SecretBox([SecretStr(KEY)])
    opened = box.open(ALICE, secret_name(body["id"]), sealed)
    assert opened.get_secret_value() == secret

    rotated = await client.post(f"/api/webhooks/{body['id']}/rotate-secret", headers=as_user(ALICE))
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] not in (secret, None)


async def test_endpoints_are_the_owners_own_and_an_api_key_may_manage_them(
    client: httpx.AsyncClient,
) -> None:
    minted = await client.post("/api/keys", json={"name": "crm"}, headers=as_user(ALICE))
    key = bearer(minted.json()["key"])
    mine = await add(client, key)
    assert [
        w["id"] for w in (await client.get("/api/webhooks", headers=as_user(ALICE))).json()["items"]
    ] == [mine["id"]]
    for method in ("GET", "DELETE"):
        answer = await client.request(method, f"/api/webhooks/{mine['id']}", headers=as_user(BOB))
        assert answer.status_code == 404, method
    patched = await client.patch(
        f"/api/webhooks/{mine['id']}",
        json={"events": ["call.ended"], "enabled": False},
        headers=key,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["events"], patched.json()["enabled"]) == (["call.ended"], False)
    operator = await client.get(f"/api/webhooks?owner_id={ALICE}", headers=OPERATOR)
    assert [w["id"] for w in operator.json()["items"]] == [mine["id"]]
    assert (await client.delete(f"/api/webhooks/{mine['id']}", headers=key)).status_code == 204
    assert (await client.get(f"/api/webhooks/{mine['id']}", headers=key)).status_code == 404


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/hook", "https://intranet.example/hook", "http://[::1]/hook"],
)
async def test_an_internal_destination_is_refused_at_save(
    client: httpx.AsyncClient, url: str
) -> None:
    refused = await client.post("/api/webhooks", json={**HOOK, "url": url}, headers=as_user(ALICE))
    assert refused.status_code == 422, refused.text
    assert "internal address" in refused.json()["detail"]
    mine = await add(client, as_user(ALICE))
    patched = await client.patch(
        f"/api/webhooks/{mine['id']}", json={"url": url}, headers=as_user(ALICE)
    )
    assert patched.status_code == 422


async def test_tool_http_allowlist_exempts_as_for_http_tools(client: httpx.AsyncClient) -> None:
    # The operator's exemptions are TOOL_HTTP_ALLOWLIST, as for the operator's tools.
    await add(client, OPERATOR, url="http://127.0.0.1:9/hook")
    refused = await client.post(
        "/api/webhooks", json={**HOOK, "url": "http://127.0.0.1:9/hook"}, headers=as_user(ALICE)
    )
    assert refused.status_code == 422
    # The operator exempts an owner's address as for that owner's tools.
    exempt = await client.put(
        f"/api/owners/{ALICE}/egress", json={"allow": ["127.0.0.1"]}, headers=OPERATOR
    )
    assert exempt.status_code == 200, exempt.text
    await add(client, as_user(ALICE), url="http://127.0.0.1:9/hook")


async def test_deliveries_are_listed_newest_first_in_pages(
    client: httpx.AsyncClient, store: PostgresStore
) -> None:
    hook = await add(client, as_user(ALICE), events=["call.started"])
    await add(client, as_user(BOB), events=["call.started"])
    for _ in range(3):
        await start_call(store, ALICE)
    url = f"/api/webhooks/{hook['id']}/deliveries"
    first = (await client.get(f"{url}?limit=2", headers=as_user(ALICE))).json()
    rest = (await client.get(f"{url}?limit=2&offset=2", headers=as_user(ALICE))).json()
    assert (first["total"], len(first["items"]), len(rest["items"])) == (3, 2, 1)
    items = [*first["items"], *rest["items"]]
    assert {d["event_type"] for d in items} == {"call.started"}
    assert {d["status"] for d in items} == {"pending"} and {d["attempts"] for d in items} == {0}
    assert [d["created_at"] for d in items] == sorted(
        (d["created_at"] for d in items), reverse=True
    )
    assert (await client.get(url, headers=as_user(BOB))).status_code == 404
