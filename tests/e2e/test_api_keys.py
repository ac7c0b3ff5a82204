"""API keys on real processes (issue 24): two `python -m backend` replicas over one Postgres and
the real livekit-server. A key minted on one replica acts as its owner on the other (their
agents, a test call) and on no one else's agent; it never reaches an operator route or key
management; revoked on one replica, it is refused from the next request on both; "last used"
is written once, not per request (the row's version, `xmin`, stays put across requests within
the minute); and no process prints the key, whatever it logs (here at debug level).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from shared.secret_box import new_key
from tests.backend.conftest import user_token
from tests.backend.test_agents import NEW_AGENT
from tests.e2e.support import healthy
from tests.support.platform import Platform
from voxiectl.livekit_local import free_port

pytestmark = pytest.mark.timeout(300)

JWT_SECRET = "e2e-api-keys-jwt-secret-with-at-least-32-chars"
ALICE = UUID("a11ce000-0000-4000-8000-0000000000a1")
BOB = UUID("b0b00000-0000-4000-8000-0000000000b2")


def signed_in(user: UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {user_token(user, secret=JWT_SECRET)}"}


async def row(database_url: str) -> Any:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchrow(
            "select xmin::text as version, last_used_at from public.api_keys"
        )
    finally:
        await conn.close()


async def test_a_key_on_two_replicas_owner_only_revoked_at_once_marked_without_a_write_per_request(
    platform: Platform, http: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    env = {
        "API_KEY_HASH_KEYS": f'["{new_key()}"]',
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "LOG_LEVEL": "debug",
    }
    port_b = free_port()
    a, b = platform.api, f"http://127.0.0.1:{port_b}"
    backend_a = platform.backend("backend-a", **env)
    backend_b = platform.backend("backend-b", BACKEND_PORT=str(port_b), **env)
    await healthy(http, a, backend_a)
    await healthy(http, b, backend_b)

    minted = await http.post(f"{a}/api/keys", json={"name": "crm-sync"}, headers=signed_in(ALICE))
    assert minted.status_code == 201, minted.text
    secret = minted.json()["key"]
    key = {"Authorization": f"Bearer {secret}"}

    # The key acts as Alice on the other replica: her agents, a test call; not Bob's agent.
    bobs = await http.post(f"{b}/api/agents", json=NEW_AGENT, headers=signed_in(BOB))
    assert bobs.status_code == 201, bobs.text
    mine = await http.post(f"{b}/api/agents", json=NEW_AGENT, headers=key)
    assert mine.status_code == 201, mine.text
    assert mine.json()["owner_id"] == str(ALICE)
    listed = await http.get(f"{a}/api/agents", headers=key)
    assert [agent["id"] for agent in listed.json()["items"]] == [mine.json()["id"]]
    for base in (a, b):
        assert (
            await http.get(f"{base}/api/agents/{bobs.json()['id']}", headers=key)
        ).status_code == 404
    call = await http.post(f"{b}/api/agents/{mine.json()['id']}/spawn", headers=key)
    assert call.status_code == 201, call.text
    assert call.json()["room_name"].startswith(f"agent-{mine.json()['id']}-")

    # Never the operator's routes, never key management, on either replica.
    for base in (a, b):
        for method, path in [("POST", "/api/gc"), ("GET", "/metrics")]:
            refused = await http.request(method, f"{base}{path}", headers=key)
            assert refused.status_code == 403, (base, path, refused.text)
        minting = await http.post(f"{base}/api/keys", json={"name": "successor"}, headers=key)
        assert minting.status_code == 403
        assert "cannot list, create or revoke API keys" in minting.json()["detail"]
        assert (await http.get(f"{base}/api/keys", headers=key)).status_code == 403

    # "Last used" was written by the first request; the many since, on both replicas, wrote
    # nothing (the row's version is the same); a minute later the next request writes it again.
    first = await row(database_url)
    assert first["last_used_at"] is not None
    for base in (a, b, a, b):
        assert (await http.get(f"{base}/api/me", headers=key)).status_code == 200
    assert await row(database_url) == first
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("update public.api_keys set last_used_at = now() - interval '2 minutes'")
    finally:
        await conn.close()
    assert (await http.get(f"{b}/api/me", headers=key)).status_code == 200
    later = await row(database_url)
    assert later["last_used_at"] > first["last_used_at"] and later["version"] != first["version"]
    listed_keys = await http.get(f"{b}/api/keys", headers=signed_in(ALICE))
    assert listed_keys.json()["items"][0]["last_used_at"] is not None

    # Revoked through replica A: the very next request is refused by both.
    revoked = await http.delete(f"{a}/api/keys/{minted.json()['id']}", headers=signed_in(ALICE))
    assert revoked.status_code == 204
    answers = []
    for base in (b, a):
        refused = await http.get(f"{base}/api/agents", headers=key)
        assert refused.status_code == 401, (base, refused.text)
        answers.append(refused.text)

    # The key was printed by no process and carried by no error answer.
    platform.stop()
    outputs = {p.label: p.output() for p in platform.processes}
    outputs["livekit-server"] = platform.lk.log()
    assert outputs["backend-a"] and outputs["backend-b"]
    assert any("api_key_created" in text for text in outputs.values())
    for label, text in outputs.items():
        assert secret not in text, label
        assert secret[12:] not in text, label
    assert all(secret not in answer for answer in answers)
