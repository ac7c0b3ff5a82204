"""Owner secrets and egress on both stores (issue 21): per owner, sealed values kept as given,
the per-owner cap, "last used" marked at most once a minute, and no way in for user tokens."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from postgrest.exceptions import APIError

from shared.contracts.secrets import MAX_SECRETS_PER_OWNER
from shared.store import AgentStore, Conflict, NotFound
from shared.store.secrets import TooManySecrets
from tests.shared.store.conftest import Client
from tests.shared.store.test_contract import OTHER, OWNER

SEALED = "v1.0000abcd.c2VhbGVk"


async def test_secrets_are_per_owner_and_kept_sealed(store: AgentStore) -> None:
    created = await store.create_secret(OWNER, "CLINIC", ["api.clinic.example"], SEALED)
    assert (created.owner_id, created.name, created.hosts) == (
        OWNER,
        "CLINIC",
        ("api.clinic.example",),
    )
    assert created.ciphertext == SEALED and created.last_used_at is None
    await store.create_secret(OWNER, "ALPHA", ["a.example", "*.b.example"], SEALED)
    await store.create_secret(OTHER, "CLINIC", ["other.example"], SEALED)

    assert [s.name for s in await store.list_secrets(OWNER)] == ["ALPHA", "CLINIC"]
    assert [s.hosts for s in await store.list_secrets(OTHER)] == [("other.example",)]
    with pytest.raises(Conflict, match="already have a secret named CLINIC"):
        await store.create_secret(OWNER, "CLINIC", ["x.example"], SEALED)

    await store.delete_secret(OWNER, "CLINIC")
    with pytest.raises(NotFound):
        await store.delete_secret(OWNER, "CLINIC")
    assert [s.name for s in await store.list_secrets(OTHER)] == ["CLINIC"]  # untouched


async def test_use_reads_only_the_owners_named_secrets_and_marks_them_once_a_minute(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    await store.create_secret(OWNER, "CLINIC", ["api.clinic.example"], SEALED)
    await store.create_secret(OWNER, "UNUSED", ["api.clinic.example"], SEALED)
    await store.create_secret(OTHER, "FOREIGN", ["api.clinic.example"], SEALED)

    [used] = await store.use_secrets(OWNER, ["CLINIC", "FOREIGN", "MISSING", "CLINIC"])
    assert used.name == "CLINIC" and used.ciphertext == SEALED and used.last_used_at is not None
    [again] = await store.use_secrets(OWNER, ["CLINIC"])
    assert again.last_used_at == used.last_used_at  # within the minute: not written again
    await db.execute(
        "update public.owner_secrets set last_used_at = now() - interval '2 minutes'"
        " where name = 'CLINIC'"
    )
    [later] = await store.use_secrets(OWNER, ["CLINIC"])
    assert later.last_used_at is not None and later.last_used_at > used.last_used_at
    unused = {s.name: s.last_used_at for s in await store.list_secrets(OWNER)}["UNUSED"]
    assert unused is None


async def test_an_owner_has_at_most_the_cap_of_secrets(store: AgentStore) -> None:
    for n in range(MAX_SECRETS_PER_OWNER):
        await store.create_secret(OWNER, f"S{n}", ["a.example"], SEALED)
    with pytest.raises(TooManySecrets, match=f"at most {MAX_SECRETS_PER_OWNER}"):
        await store.create_secret(OWNER, "ONE_MORE", ["a.example"], SEALED)
    await store.create_secret(OTHER, "ONE_MORE", ["a.example"], SEALED)  # per owner


async def test_egress_is_per_owner_and_replaced_whole(store: AgentStore) -> None:
    assert (await store.get_egress(OWNER)).allow == []
    first = await store.set_egress(OWNER, ["crm.lan", "10.0.0.0/8"], updated_by="operator")
    assert first.allow == ["crm.lan", "10.0.0.0/8"] and first.updated_at is not None
    replaced = await store.set_egress(OWNER, ["10.1.0.0/16"], updated_by="operator")
    assert (await store.get_egress(OWNER)).allow == ["10.1.0.0/16"] == replaced.allow
    assert (await store.get_egress(OTHER)).allow == []


async def test_users_reach_neither_secrets_nor_egress_through_postgrest(
    client_for: Client, postgres_store: AgentStore
) -> None:
    await postgres_store.create_secret(OWNER, "CLINIC", ["api.clinic.example"], SEALED)
    alice = await client_for(OWNER)
    calls: list[Any] = [
        alice.table("owner_secrets").select("*").execute,
        alice.table("owner_egress").select("*").execute,
        alice.table("owner_egress")
        .insert({"owner_id": str(OWNER), "allow": ["10.0.0.0/8"], "updated_by": "me"})
        .execute,
        alice.rpc("use_owner_secrets", {"p_owner": str(OWNER), "p_names": ["CLINIC"]}).execute,
        alice.rpc(
            "create_owner_secret",
            {
                "p_owner": str(OTHER),
                "p_name": "X",
                "p_hosts": ["a.example"],
                "p_ciphertext": SEALED,
                "p_limit": 100,
            },
        ).execute,
    ]
    for call in calls:
        with pytest.raises(APIError) as refused:
            await call()
        assert refused.value.code == "42501"
