"""Agent versions on both stores over the real database: publish, list, get, rollback, the
derived "unpublished changes", immutability, and races between publishers."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from shared.contracts import AgentPatch, AgentStatus, NewCallSession, SessionKind
from shared.contracts.versions import RUNNABLE_FIELDS
from shared.store import AgentStore, Conflict, InvalidInput, NotFound
from shared.store.errors import DraftNotPublishable, NothingToPublish
from tests.shared.store.test_contract import OTHER, OWNER, new_agent

ME = f"user:{OWNER}"


async def active_agent(store: AgentStore, **overrides: Any) -> Any:
    return await store.create_agent(new_agent(status=AgentStatus.ACTIVE, **overrides))


async def edit(store: AgentStore, agent: Any, **changes: Any) -> Any:
    return await store.update_agent(agent.id, AgentPatch(**changes), expected_version=agent.version)


async def test_activation_publishes_version_1_and_the_draft_matches_it(store: AgentStore) -> None:
    draft = await store.create_agent(new_agent())
    assert draft.published_version is None and draft.has_unpublished_changes
    assert (await store.list_versions(draft.id)).total == 0

    active = await edit(store, draft, status="active")
    assert active.published_version == 1 and not active.has_unpublished_changes
    first = await store.get_version(active.id, 1)
    assert first.published_by == "platform" and first.draft_version == active.version
    assert first.config.greeting == "Hi, this is Clarence." and first.config.tools == draft.tools
    assert set(first.config.model_dump()) == set(RUNNABLE_FIELDS)

    created_active = await active_agent(store, slug="born-active")
    assert created_active.published_version == 1
    assert not created_active.has_unpublished_changes


async def test_publish_snapshots_the_draft_as_the_next_version(store: AgentStore) -> None:
    agent = await active_agent(store)
    edited = await edit(store, agent, greeting="Hello from version two.")
    assert edited.published_version == 1 and edited.has_unpublished_changes

    published = await store.publish_version(agent.id, published_by=ME, note="  warmer  ")
    assert published.version == 2 and published.note == "warmer" and published.published_by == ME
    assert published.config.greeting == "Hello from version two."
    assert published.draft_version == edited.version
    after = await store.get_agent(agent.id)
    # The publish changed which version is live, not the draft or its optimistic version.
    assert after.published_version == 2 and not after.has_unpublished_changes
    assert after.version == edited.version and after.updated_at == edited.updated_at
    assert (await store.get_version(agent.id, 1)).config.greeting == "Hi, this is Clarence."


async def test_publish_refusals_write_nothing(store: AgentStore, db: asyncpg.Connection) -> None:
    agent = await active_agent(store)
    with pytest.raises(NothingToPublish, match="nothing changed since version 1"):
        await store.publish_version(agent.id, published_by=ME)
    # A slug is not part of what runs: renaming it leaves nothing to publish.
    renamed = await edit(store, agent, slug="clarence-renamed")
    assert not renamed.has_unpublished_changes

    draft = await store.create_agent(new_agent(slug="empty", instructions=""))
    with pytest.raises(DraftNotPublishable, match="instructions"):
        await store.publish_version(draft.id, published_by=ME)

    with pytest.raises(NotFound):
        await store.publish_version(agent.id, published_by=ME, owner_id=OTHER)
    await edit(store, renamed, greeting="changed")
    archived = await store.archive_agent(agent.id)
    assert archived.status is AgentStatus.ARCHIVED
    with pytest.raises(NotFound, match="archived"):
        await store.publish_version(agent.id, published_by=ME)
    assert await db.fetchval("select count(*) from public.agent_versions") == 1


async def test_list_is_newest_first_and_paged(store: AgentStore) -> None:
    agent = await active_agent(store)
    for n in range(2, 5):
        agent = await edit(store, agent, greeting=f"greeting {n}")
        await store.publish_version(agent.id, published_by=ME, note=f"v{n}")
    page = await store.list_versions(agent.id, limit=2)
    assert [v.version for v in page.items] == [4, 3] and page.total == 4
    page = await store.list_versions(agent.id, limit=2, offset=2)
    assert [v.version for v in page.items] == [2, 1]
    beyond = await store.list_versions(agent.id, limit=2, offset=10)
    assert beyond.items == [] and beyond.total == 4
    with pytest.raises(NotFound):
        await store.list_versions(agent.id, owner_id=OTHER)
    with pytest.raises(InvalidInput):
        await store.list_versions(agent.id, limit=0)


async def test_get_version_scoping_and_bad_numbers(store: AgentStore) -> None:
    agent = await active_agent(store)
    assert (await store.get_version(agent.id, 1, owner_id=OWNER)).version == 1
    with pytest.raises(NotFound, match="no version 2"):
        await store.get_version(agent.id, 2)
    with pytest.raises(NotFound):
        await store.get_version(agent.id, 1, owner_id=OTHER)
    with pytest.raises(InvalidInput):
        await store.get_version(agent.id, 0)
    with pytest.raises(InvalidInput):
        await store.get_version("not-a-uuid", 1)


async def test_rollback_points_at_an_older_version_and_is_logged(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    agent = await active_agent(store)
    agent = await edit(store, agent, greeting="two")
    await store.publish_version(agent.id, published_by=ME)

    rolled = await store.rollback_version(agent.id, 1, rolled_back_by=ME, owner_id=OWNER)
    assert rolled.published_version == 1 and rolled.has_unpublished_changes
    assert rolled.version == agent.version and rolled.greeting == "two"  # the draft is untouched
    log = await db.fetch("select * from public.agent_rollbacks")
    assert [(r["from_version"], r["to_version"], r["rolled_back_by"]) for r in log] == [(2, 1, ME)]
    assert log[0]["rolled_back_at"] is not None

    # Already there: nothing changes, nothing is logged.
    again = await store.rollback_version(agent.id, 1, rolled_back_by=ME)
    assert again == rolled
    assert await db.fetchval("select count(*) from public.agent_rollbacks") == 1

    with pytest.raises(NotFound, match="no version 7"):
        await store.rollback_version(agent.id, 7, rolled_back_by=ME)
    with pytest.raises(NotFound):
        await store.rollback_version(agent.id, 2, rolled_back_by=ME, owner_id=OTHER)
    assert (await store.get_agent(agent.id)).published_version == 1


async def test_concurrent_publishes_take_distinct_numbers(store: AgentStore) -> None:
    agents = []
    for n in range(4):
        agent = await active_agent(store, slug=f"racer-{n}")
        agents.append(await edit(store, agent, greeting="changed"))
    # Same agent, concurrently: one publishes, the others find nothing left to publish.
    target = agents[0]
    results = await asyncio.gather(
        *(store.publish_version(target.id, published_by=ME) for _ in range(5)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    assert [v.version for v in made] == [2]
    assert all(isinstance(r, NothingToPublish | Conflict) for r in results if r not in made)


async def test_published_versions_are_immutable(store: AgentStore, db: asyncpg.Connection) -> None:
    agent = await active_agent(store)
    with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError, match="cannot be changed"):
        await db.execute("update public.agent_versions set note = 'rewritten'")
    with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError, match="cannot be changed"):
        await db.execute("delete from public.agent_versions")
    # Deleting the agent for good takes its versions with it.
    await store.delete_agent(agent.id)
    assert await db.fetchval("select count(*) from public.agent_versions") == 0


async def test_sessions_record_the_version_they_ran(store: AgentStore) -> None:
    agent = await active_agent(store)
    session = await store.start_session(
        NewCallSession(
            agent_id=agent.id,
            owner_id=OWNER,
            room_name="r",
            kind=SessionKind.TEST,
            deployment="dev",
            agent_version=1,
        )
    )
    assert session.agent_version == 1 and session.draft_version is None
    assert (await store.get_session(session.id)).agent_version == 1
    draft_call = await store.start_session(
        NewCallSession(
            agent_id=agent.id,
            room_name="r2",
            kind=SessionKind.TEST,
            deployment="dev",
            draft_version=agent.version,
        )
    )
    assert (draft_call.agent_version, draft_call.draft_version) == (None, agent.version)
    with pytest.raises(InvalidInput):  # a call runs one or the other
        await store.start_session(
            NewCallSession(
                agent_id=agent.id,
                room_name="r3",
                kind=SessionKind.TEST,
                deployment="dev",
                agent_version=1,
                draft_version=1,
            )
        )
