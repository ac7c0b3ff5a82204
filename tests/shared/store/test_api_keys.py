"""API keys on both stores (issue 24): per owner, found only by hash (which never comes back),
the per-owner cap, revocation, "last used" written at most once a minute, and no way in for
user tokens."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from postgrest.exceptions import APIError

from shared.contracts.api_keys import MAX_API_KEYS_PER_OWNER
from shared.store import AgentStore, Conflict, NotFound
from shared.store.api_keys import TooManyApiKeys
from tests.shared.store.conftest import Client
from tests.shared.store.test_contract import OTHER, OWNER


def digest(n: int) -> str:
    return f"{n:064x}"


async def test_keys_are_per_owner_and_listed_without_their_hash(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    created = await store.create_api_key(OWNER, "crm-sync", "vx_live_AbC1", digest(1))
    assert (created.owner_id, created.name, created.prefix) == (OWNER, "crm-sync", "vx_live_AbC1")
    assert created.last_used_at is None
    await store.create_api_key(OWNER, "billing", "vx_live_AbC2", digest(2))
    await store.create_api_key(OTHER, "crm-sync", "vx_live_AbC3", digest(3))

    assert [k.name for k in await store.list_api_keys(OWNER)] == ["crm-sync", "billing"]
    assert [k.prefix for k in await store.list_api_keys(OTHER)] == ["vx_live_AbC3"]
    assert "key_hash" not in created.model_dump()
    assert await db.fetchval("select key_hash from public.api_keys where id = $1", created.id) == (
        digest(1)
    )


async def test_use_finds_a_key_by_any_of_its_hashes_and_marks_it_once_a_minute(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    created = await store.create_api_key(OWNER, "crm-sync", "vx_live_AbC1", digest(1))
    await store.create_api_key(OWNER, "unused", "vx_live_AbC2", digest(2))

    assert await store.use_api_key([digest(9)]) is None
    used = await store.use_api_key([digest(8), digest(1)])
    assert used is not None and (used.id, used.owner_id) == (created.id, OWNER)
    assert used.last_used_at is not None
    again = await store.use_api_key([digest(1)])
    assert again is not None and again.last_used_at == used.last_used_at  # not written again
    await db.execute(
        "update public.api_keys set last_used_at = now() - interval '2 minutes' where id = $1",
        created.id,
    )
    later = await store.use_api_key([digest(1)])
    assert later is not None and later.last_used_at is not None
    assert later.last_used_at > used.last_used_at
    listed = {k.name: k.last_used_at for k in await store.list_api_keys(OWNER)}
    assert listed == {"crm-sync": later.last_used_at, "unused": None}


async def test_a_revoked_key_is_found_no_more_and_only_its_owner_revokes_it(
    store: AgentStore,
) -> None:
    created = await store.create_api_key(OWNER, "crm-sync", "vx_live_AbC1", digest(1))
    with pytest.raises(NotFound):
        await store.delete_api_key(created.id, OTHER)
    assert await store.use_api_key([digest(1)]) is not None

    revoked = await store.delete_api_key(created.id, OWNER)
    assert revoked.id == created.id
    assert await store.use_api_key([digest(1)]) is None
    with pytest.raises(NotFound):
        await store.delete_api_key(created.id, OWNER)

    other = await store.create_api_key(OTHER, "x", "vx_live_AbC2", digest(2))
    await store.delete_api_key(other.id, None)  # the operator: whoever's it is
    assert await store.list_api_keys(OTHER) == []


async def test_an_owner_has_at_most_the_cap_of_keys(store: AgentStore) -> None:
    for n in range(MAX_API_KEYS_PER_OWNER):
        await store.create_api_key(OWNER, f"k{n}", "vx_live_AbC1", digest(n))
    with pytest.raises(TooManyApiKeys, match=f"at most {MAX_API_KEYS_PER_OWNER} API keys"):
        await store.create_api_key(OWNER, "one-more", "vx_live_AbC1", digest(100))
    assert isinstance(TooManyApiKeys("x"), Conflict)
    await store.create_api_key(OTHER, "one-more", "vx_live_AbC1", digest(100))  # per owner
    first = (await store.list_api_keys(OWNER))[0]
    await store.delete_api_key(first.id, OWNER)
    await store.create_api_key(OWNER, "replacement", "vx_live_AbC1", digest(101))


async def test_users_reach_no_key_or_hash_through_postgrest(
    client_for: Client, postgres_store: AgentStore
) -> None:
    await postgres_store.create_api_key(OWNER, "crm-sync", "vx_live_AbC1", digest(1))
    alice = await client_for(OWNER)
    calls: list[Any] = [
        alice.table("api_keys").select("*").execute,
        alice.table("api_keys").delete().eq("owner_id", str(OWNER)).execute,
        alice.rpc("use_api_key", {"p_hashes": [digest(1)]}).execute,
        alice.rpc(
            "create_api_key",
            {
                "p_owner": str(OTHER),
                "p_name": "x",
                "p_prefix": "vx_live_AbC1",
                "p_hash": digest(2),
                "p_limit": 20,
            },
        ).execute,
    ]
    for call in calls:
        with pytest.raises(APIError) as refused:
            await call()
        assert refused.value.code == "42501"
