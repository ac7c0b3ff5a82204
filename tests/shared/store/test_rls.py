"""Row level security, through the REST path with user JWTs: owners see and change only their own.

The service-role stores bypass RLS (as on Supabase); these tests use the real supabase-py client
with `authenticated` tokens, so the database's policies — not the application — are what is
being checked.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from postgrest.exceptions import APIError

from shared.contracts import NewCallSession, TokenUsage
from shared.store import AgentStore
from tests.shared.store.conftest import Client
from tests.shared.store.test_contract import OTHER, OWNER, new_agent


def rows(response: Any) -> list[dict[str, Any]]:
    """The response's rows; supabase-py types them as arbitrary JSON."""
    data = response.data
    assert isinstance(data, list)
    return [dict(r) for r in data]


def agent_row(owner: UUID, slug: str) -> dict[str, Any]:
    return {**new_agent(owner=owner, slug=slug).model_dump(mode="json")}


async def test_owners_see_and_change_only_their_own_agents(
    client_for: Client, postgres_store: AgentStore
) -> None:
    mine = await postgres_store.create_agent(new_agent(owner=OWNER, slug="mine"))
    theirs = await postgres_store.create_agent(new_agent(owner=OTHER, slug="theirs"))
    alice = await client_for(OWNER)

    visible = rows(await alice.table("agents").select("id").execute())
    assert [r["id"] for r in visible] == [str(mine.id)]
    assert rows(await alice.table("agents").select("*").eq("id", str(theirs.id)).execute()) == []

    changed = (
        await alice.table("agents").update({"name": "Hacked"}).eq("id", str(theirs.id)).execute()
    )
    assert rows(changed) == []
    deleted = await alice.table("agents").delete().eq("id", str(theirs.id)).execute()
    assert rows(deleted) == []
    assert (await postgres_store.get_agent(theirs.id)) == theirs

    own_change = (
        await alice.table("agents")
        .update({"name": "Mine, renamed"})
        .eq("id", str(mine.id))
        .execute()
    )
    assert rows(own_change)[0]["name"] == "Mine, renamed" and rows(own_change)[0]["version"] == 2


async def test_an_owner_cannot_create_or_move_agents_into_another_account(
    client_for: Client, postgres_store: AgentStore
) -> None:
    alice = await client_for(OWNER)
    with pytest.raises(APIError) as caught:
        await alice.table("agents").insert(agent_row(OTHER, "planted")).execute()
    assert caught.value.code == "42501"

    mine = await postgres_store.create_agent(new_agent(owner=OWNER, slug="mine"))
    with pytest.raises(APIError) as caught:
        await (
            alice.table("agents").update({"owner_id": str(OTHER)}).eq("id", str(mine.id)).execute()
        )
    assert caught.value.code == "42501"
    assert (await postgres_store.list_agents(OTHER)).total == 0

    created = await alice.table("agents").insert(agent_row(OWNER, "own-insert")).execute()
    assert rows(created)[0]["owner_id"] == str(OWNER)


async def test_sessions_transcripts_and_usage_are_read_only_and_owner_scoped(
    client_for: Client, postgres_store: AgentStore
) -> None:
    agent = await postgres_store.create_agent(new_agent(owner=OWNER, slug="mine"))
    session = await postgres_store.start_session(
        NewCallSession(
            agent_id=agent.id, owner_id=OWNER, room_name="r", kind="test", deployment="dev"
        )
    )
    await postgres_store.write_transcript(session.id, [{"role": "user", "content": ["hi"]}])
    await postgres_store.write_usage(session.id, [TokenUsage(model="gpt-realtime", input_tokens=5)])
    alice, bob = await client_for(OWNER), await client_for(OTHER)

    for table in ("call_sessions", "call_transcripts", "token_usage"):
        assert len(rows(await alice.table(table).select("*").execute())) == 1, table
        assert rows(await bob.table(table).select("*").execute()) == [], table

    with pytest.raises(APIError) as caught:
        await (
            alice.table("call_sessions")
            .update({"status": "ended"})
            .eq("id", str(session.id))
            .execute()
        )
    assert caught.value.code == "42501"
    assert (await postgres_store.get_session(session.id)) == session


async def test_leases_and_anonymous_access_are_closed(
    client_for: Client, postgres_store: AgentStore
) -> None:
    await postgres_store.create_agent(new_agent(owner=OWNER, slug="mine"))
    alice, anon = await client_for(OWNER), await client_for(None)
    with pytest.raises(APIError) as caught:
        await alice.rpc(
            "acquire_lease", {"p_name": "reconciler", "p_holder": "me", "p_ttl_s": 60}
        ).execute()
    assert caught.value.code == "42501"
    with pytest.raises(APIError):
        await alice.table("leases").select("*").execute()
    with pytest.raises(APIError) as caught:
        await alice.rpc(
            "reserve_agent_slot",
            {"p_room": "r", "p_cap": 100, "p_listed": [], "p_ttl_s": 60},
        ).execute()
    assert caught.value.code == "42501"
    with pytest.raises(APIError):
        await alice.table("agent_slots").select("*").execute()
    with pytest.raises(APIError) as caught:
        await anon.table("agents").select("*").execute()
    assert caught.value.code == "42501"


async def test_owners_read_only_their_own_versions_and_cannot_write_any(
    client_for: Client, postgres_store: AgentStore
) -> None:
    mine = await postgres_store.create_agent(new_agent(owner=OWNER, slug="mine", status="active"))
    theirs = await postgres_store.create_agent(
        new_agent(owner=OTHER, slug="theirs", status="active")
    )
    await postgres_store.rollback_version(theirs.id, 1, rolled_back_by="operator")
    alice = await client_for(OWNER)

    visible = rows(await alice.table("agent_versions").select("agent_id,version").execute())
    assert visible == [{"agent_id": str(mine.id), "version": 1}]
    assert rows(await alice.table("agent_rollbacks").select("*").execute()) == []

    with pytest.raises(APIError) as caught:
        await (
            alice.table("agent_versions")
            .insert({**visible[0], "config": {}, "draft_version": 1, "published_by": "me"})
            .execute()
        )
    assert caught.value.code == "42501"
    with pytest.raises(APIError) as caught:
        await alice.table("agent_versions").update({"note": "x"}).eq("version", 1).execute()
    assert caught.value.code == "42501"
    # Which version is live changes only through publish and rollback (logged), not by hand.
    with pytest.raises(APIError) as caught:
        await (
            alice.table("agents").update({"published_version": 1}).eq("id", str(mine.id)).execute()
        )
    assert caught.value.code == "42501"
    with pytest.raises(APIError) as caught:
        await alice.rpc(
            "rollback_agent_version",
            {"p_agent": str(mine.id), "p_owner": None, "p_version": 1, "p_by": "me"},
        ).execute()
    assert caught.value.code == "42501"

    # Editing the draft through REST still works, and activating publishes (the trigger may).
    draft = await postgres_store.create_agent(new_agent(owner=OWNER, slug="draft"))
    activated = rows(
        await alice.table("agents").update({"status": "active"}).eq("id", str(draft.id)).execute()
    )
    assert activated[0]["published_version"] == 1
