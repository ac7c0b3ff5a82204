"""The AgentStore contract, run against both implementations over a real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from shared.contracts import (
    AgentPatch,
    AgentStatus,
    CallTurn,
    EndReason,
    NewAgent,
    NewCallSession,
    SessionKind,
    SessionStatus,
    TokenUsage,
)
from shared.contracts.agent_config import MAX_INSTRUCTIONS
from shared.contracts.workers import WorkerBeat
from shared.naming import WorkerRole
from shared.store import AgentStore, Conflict, InvalidInput, NotFound
from shared.store.search import MAX_SEARCH_LENGTH

OWNER = UUID("9b1d2c3e-0000-4000-8000-00000000a11c")
OTHER = UUID("9b1d2c3e-0000-4000-8000-0000000000b0")


def new_agent(owner: UUID = OWNER, **overrides: Any) -> NewAgent:
    values: dict[str, Any] = {
        "owner_id": owner,
        "slug": "clarence-coherence",
        "name": "Clarence Coherence",
        "instructions": "You are Clarence, the front desk of Coherence Dental.",
        "greeting": "Hi, this is Clarence.",
        "voice": "cedar",
        "tools": [
            {
                "type": "http",
                "name": "book",
                "description": "Book a slot.",
                "parameters": {"type": "object", "properties": {"at": {"type": "string"}}},
                "url": "https://api.example.com/book",
                "headers": {"Authorization": {"secret": "CLINIC_TOKEN"}},
            },
            {"type": "builtin", "name": "end_call"},
        ],
    }
    return NewAgent.model_validate({**values, **overrides})


async def count(db: asyncpg.Connection, table: str) -> int:
    return int(await db.fetchval(f"select count(*) from public.{table}"))


# --- agents ------------------------------------------------------------------------------------


async def test_create_then_get_by_id_and_slug(store: AgentStore) -> None:
    created = await store.create_agent(new_agent())
    assert created.version == 1 and created.status is AgentStatus.DRAFT
    assert created.owner_id == OWNER and created.voice == "cedar"
    assert created.tools == new_agent().tools

    assert await store.get_agent(created.id) == created
    assert await store.get_agent(str(created.id).upper()) == created
    assert await store.get_agent(created.id, owner_id=OWNER) == created
    assert await store.get_agent_by_slug(OWNER, "clarence-coherence") == created
    # The seeds' bug: a non-canonical slug finds the canonical agent.
    assert await store.get_agent_by_slug(OWNER, "clarence_coherence") == created
    assert await store.get_agent_by_slug(OWNER, "Clarence Coherence") == created


async def test_slug_near_miss_answers_not_found_with_a_hint(store: AgentStore) -> None:
    await store.create_agent(new_agent())
    with pytest.raises(NotFound, match="no agent with slug") as caught:
        await store.get_agent_by_slug(OWNER, "clarence-coherense")
    assert caught.value.hint == "did you mean 'clarence-coherence'?"
    with pytest.raises(NotFound) as caught:
        await store.get_agent_by_slug(OWNER, "zebra")
    assert caught.value.hint is None
    with pytest.raises(NotFound):  # another owner's slugs are neither found nor hinted
        await store.get_agent_by_slug(OTHER, "clarence-coherence")


async def test_another_owners_agent_is_not_found(store: AgentStore) -> None:
    created = await store.create_agent(new_agent())
    with pytest.raises(NotFound):
        await store.get_agent(created.id, owner_id=OTHER)
    with pytest.raises(NotFound):
        await store.update_agent(
            created.id, AgentPatch(name="X"), expected_version=1, owner_id=OTHER
        )
    with pytest.raises(NotFound):
        await store.archive_agent(created.id, owner_id=OTHER)
    with pytest.raises(NotFound):
        await store.delete_agent(created.id, owner_id=OTHER)
    assert await store.get_agent(created.id) == created


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", "1234", "'; drop table agents; --"])
async def test_malformed_ids_are_invalid_input(store: AgentStore, bad_id: str) -> None:
    with pytest.raises(InvalidInput, match="is not a UUID"):
        await store.get_agent(bad_id)
    with pytest.raises(InvalidInput):
        await store.update_agent(bad_id, AgentPatch(name="X"), expected_version=1)
    with pytest.raises(InvalidInput):
        await store.delete_agent(bad_id)
    with pytest.raises(InvalidInput):
        await store.get_session(bad_id)


async def test_unknown_ids_are_not_found(store: AgentStore) -> None:
    unknown = uuid4()
    for call in (
        store.get_agent(unknown),
        store.update_agent(unknown, AgentPatch(name="X"), expected_version=1),
        store.archive_agent(unknown),
        store.delete_agent(unknown),
        store.get_session(unknown),
        store.finish_session(unknown, end_reason=EndReason.ERROR),
    ):
        with pytest.raises(NotFound):
            await call


async def test_duplicate_slug_is_a_conflict_and_writes_nothing(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    await store.create_agent(new_agent())
    with pytest.raises(Conflict, match="slug 'clarence-coherence' is taken"):
        await store.create_agent(new_agent(name="Another Clarence"))
    assert await count(db, "agents") == 1
    # Slugs are unique per owner, and an archived agent frees its slug.
    await store.create_agent(new_agent(owner=OTHER))
    first = await store.get_agent_by_slug(OWNER, "clarence-coherence")
    await store.archive_agent(first.id)
    again = await store.create_agent(new_agent(name="Clarence Two"))
    assert (await store.get_agent_by_slug(OWNER, "clarence-coherence")).id == again.id


async def test_invalid_configs_are_refused_and_write_nothing(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    # model_construct skips validation, as a caller holding a stale or forged object would.
    oversized = NewAgent.model_construct(
        **{**dict(new_agent()), "instructions": "x" * (MAX_INSTRUCTIONS + 1)}
    )
    with pytest.raises(InvalidInput, match="instructions"):
        await store.create_agent(oversized)
    bad_voice = NewAgent.model_construct(**{**dict(new_agent()), "voice": "robot"})
    with pytest.raises(InvalidInput, match="unsupported voice 'robot'"):
        await store.create_agent(bad_voice)
    assert await count(db, "agents") == 0

    created = await store.create_agent(new_agent(instructions=""))
    with pytest.raises(InvalidInput, match="unsupported voice"):
        await store.update_agent(
            created.id, AgentPatch.model_construct(voice="robot"), expected_version=1
        )
    with pytest.raises(InvalidInput, match="an active agent needs instructions"):
        await store.update_agent(
            created.id, AgentPatch(status=AgentStatus.ACTIVE), expected_version=1
        )
    assert await store.get_agent(created.id) == created


async def test_update_bumps_version_and_checks_it(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    created = await store.create_agent(new_agent(instructions=""))
    updated = await store.update_agent(
        created.id,
        AgentPatch(instructions="Answer questions about opening hours.", status="active"),
        expected_version=1,
    )
    assert updated.version == 2 and updated.status is AgentStatus.ACTIVE
    assert updated.updated_at > created.updated_at and updated.created_at == created.created_at
    assert (updated.name, updated.voice, updated.tools) == (
        created.name,
        created.voice,
        created.tools,
    )

    with pytest.raises(Conflict, match="version 2, not 1") as caught:
        await store.update_agent(created.id, AgentPatch(name="Stale"), expected_version=1)
    assert caught.value.current_version == 2
    assert await store.get_agent(created.id) == updated
    assert await db.fetchval("select name from agents where id = $1", created.id) == created.name


async def test_concurrent_updates_one_wins(store: AgentStore) -> None:
    created = await store.create_agent(new_agent())
    results = await asyncio.gather(
        *(
            store.update_agent(created.id, AgentPatch(greeting=f"Hello {i}"), expected_version=1)
            for i in range(5)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    assert (await store.get_agent(created.id)).version == 2


async def test_renaming_onto_a_taken_slug_is_a_conflict(store: AgentStore) -> None:
    await store.create_agent(new_agent())
    other = await store.create_agent(new_agent(slug="farah", name="Farah"))
    with pytest.raises(Conflict, match="taken"):
        await store.update_agent(
            other.id, AgentPatch(slug="clarence-coherence"), expected_version=1
        )
    assert (await store.get_agent(other.id)).slug == "farah"


async def test_list_pages_newest_first_per_owner(store: AgentStore) -> None:
    ids = [
        (await store.create_agent(new_agent(slug=f"agent-{i}", name=f"Agent {i}"))).id
        for i in range(5)
    ]
    await store.create_agent(new_agent(owner=OTHER, slug="theirs", name="Theirs"))
    archived = await store.create_agent(new_agent(slug="old", name="Old"))
    await store.archive_agent(archived.id)

    first = await store.list_agents(OWNER, limit=2)
    second = await store.list_agents(OWNER, limit=2, offset=2)
    third = await store.list_agents(OWNER, limit=2, offset=4)
    assert first.total == second.total == third.total == 5
    assert [a.id for a in first.items + second.items + third.items] == ids[::-1]
    beyond = await store.list_agents(OWNER, limit=2, offset=50)
    assert beyond.items == [] and beyond.total == 5

    assert (await store.list_agents(OWNER, include_archived=True)).total == 6
    assert (await store.list_agents(None)).total == 6  # operators see every owner
    with pytest.raises(InvalidInput):
        await store.list_agents(OWNER, limit=0)
    with pytest.raises(InvalidInput):
        await store.list_agents(OWNER, offset=-1)


async def test_search_matches_name_slug_or_voice_in_any_case(store: AgentStore) -> None:
    clarence = await store.create_agent(new_agent())  # voice cedar
    farah = await store.create_agent(
        new_agent(slug="farah", name="Front Desk", voice="marin", instructions="Coherence.")
    )
    theirs = await store.create_agent(new_agent(owner=OTHER, slug="coherent", name="Theirs"))
    old = await store.create_agent(new_agent(slug="old-coherence", name="Old"))
    await store.archive_agent(old.id)

    async def found(owner: UUID | None, search: str | None, **kw: Any) -> list[UUID]:
        page = await store.list_agents(owner, search=search, **kw)
        assert page.total == len(page.items)
        return [a.id for a in page.items]

    assert await found(OWNER, "COHER") == [clarence.id]  # not by instructions, not archived
    assert await found(OWNER, "coher", include_archived=True) == [old.id, clarence.id]
    assert await found(OWNER, "  front desk ") == [farah.id]  # the name, trimmed
    assert await found(OWNER, "FaRaH") == [farah.id]  # the slug
    assert await found(OWNER, "marin") == [farah.id]  # the voice
    assert await found(OWNER, "nobody") == []
    for nothing in (None, "", "   "):
        assert await found(OWNER, nothing) == [farah.id, clarence.id]
    # The operator's search spans every owner; `total` counts the matches, not the page.
    assert await found(None, "coher") == [theirs.id, clarence.id]
    first = await store.list_agents(None, search="coher", limit=1)
    second = await store.list_agents(None, search="coher", limit=1, offset=1)
    assert (first.total, second.total) == (2, 2)
    assert [a.id for a in first.items + second.items] == [theirs.id, clarence.id]


async def test_the_operators_search_matches_an_owner_id_prefix(store: AgentStore) -> None:
    mine = await store.create_agent(new_agent())
    theirs = await store.create_agent(new_agent(owner=OTHER, slug="theirs", name="Theirs"))
    both = [theirs.id, mine.id]

    async def found(owner: UUID | None, search: str) -> list[UUID]:
        return [a.id for a in (await store.list_agents(owner, search=search)).items]

    assert await found(None, "9b1d2c3e") == both  # both owners' ids start so
    assert await found(None, "9B1D2C3E-0000-4000-8000-00000000A") == [mine.id]
    assert await found(None, str(OTHER)) == [theirs.id]
    assert await found(None, "9b1d2c3e-0000-4000-8000-00000000a11c0") == []  # longer than an id
    assert await found(None, "9b1d2c3e0000") == []  # not the canonical spelling
    assert await found(None, "9b1g") == []
    # A user's listing is theirs already: an owner id is not something to search it by.
    assert await found(OWNER, "9b1d2c3e") == []


# Each is a name whose characters mean something to LIKE, regular expressions, PostgREST's
# logic trees or a URL; each finds exactly itself, and the decoy it would find if its
# characters were syntax (`%` and `*` as wildcards, `+` as a space, `|` as "or") stays out.
HOSTILE = [
    ("50%_off", "50 and off"),
    ("a,b)", "a b"),
    ("x*y", "xzzy"),
    ("back\\slash", "backslash"),
    ('say "hi"', "say hi"),
    ("it's", "its"),
    ("v1.2:beta", "v1x2 beta"),
    ("(paren", "paren"),
    ("[br]", "b r"),
    ("^$|.{2}", "an empty match"),
    ("c++", "c  d"),
    ("Zoë & Ünal", "Zoe & Unal"),
]


async def test_a_search_is_data_never_syntax(store: AgentStore) -> None:
    ids = {}
    for i, (name, decoy) in enumerate(HOSTILE):
        ids[name] = (await store.create_agent(new_agent(slug=f"hostile-{i}", name=name))).id
        await store.create_agent(new_agent(slug=f"decoy-{i}", name=decoy))
    for name, _ in HOSTILE:
        for scope in (OWNER, None):
            page = await store.list_agents(scope, search=name)
            assert [a.id for a in page.items] == [ids[name]], name
            assert page.total == 1, name


async def test_a_search_is_bounded(store: AgentStore) -> None:
    await store.create_agent(new_agent())
    longest = await store.list_agents(OWNER, search="x" * MAX_SEARCH_LENGTH)
    assert (longest.items, longest.total) == ([], 0)
    with pytest.raises(InvalidInput, match="at most 100"):
        await store.list_agents(OWNER, search="x" * (MAX_SEARCH_LENGTH + 1))
    with pytest.raises(InvalidInput, match="NUL"):
        await store.list_agents(None, search="a\x00b")


async def test_archive_is_idempotent_and_delete_keeps_sessions(store: AgentStore) -> None:
    created = await store.create_agent(new_agent())
    archived = await store.archive_agent(created.id)
    assert archived.status is AgentStatus.ARCHIVED and archived.version == 2
    assert await store.archive_agent(created.id) == archived

    session = await store.start_session(
        NewCallSession(agent_id=created.id, room_name="agent-x", kind="test", deployment="dev")
    )
    await store.delete_agent(created.id)
    with pytest.raises(NotFound):
        await store.get_agent(created.id)
    assert (await store.get_session(session.id)).agent_id is None


async def test_call_stats_count_test_and_live_calls_of_the_last_7_days(
    store: AgentStore, db: asyncpg.Connection
) -> None:
    busy = await store.create_agent(new_agent())
    quiet = await store.create_agent(new_agent(slug="quiet"))
    idle = await store.create_agent(new_agent(slug="idle"))

    async def call(agent: UUID, kind: str, days_ago: float) -> None:
        await db.execute(
            "insert into public.call_sessions (agent_id, room_name, kind, deployment, started_at)"
            " values ($1, $2, $3, 'dev', now() - make_interval(secs => $4))",
            agent,
            f"r-{uuid4()}",
            kind,
            days_ago * 86_400,
        )

    await call(busy.id, "test", 0.01)
    await call(busy.id, "live", 2)
    await call(busy.id, "test", 8)  # too old to count, not too old to be a "last call"
    await call(busy.id, "creation", 0.001)  # Voxie editing it: not a call of the agent
    await call(quiet.id, "live", 30)
    await call(idle.id, "creation", 1)

    unknown = uuid4()
    stats = await store.agent_call_stats([busy.id, quiet.id, idle.id, unknown])
    assert [stats[a].calls_7d for a in (busy.id, quiet.id, idle.id, unknown)] == [2, 0, 0, 0]
    newest = await db.fetchval(
        "select max(started_at) from public.call_sessions where agent_id = $1 and kind = 'test'",
        busy.id,
    )
    assert stats[busy.id].last_call_at == newest
    assert stats[quiet.id].last_call_at is not None
    assert stats[idle.id].last_call_at is None and stats[unknown].last_call_at is None
    assert await store.agent_call_stats([]) == {}


async def test_agent_names_of_a_page_in_one_call_scoped_to_the_owner(store: AgentStore) -> None:
    mine = await store.create_agent(new_agent(name="Clarence"))
    archived = await store.create_agent(new_agent(slug="old", name="Old Clarence"))
    await store.archive_agent(archived.id)
    theirs = await store.create_agent(new_agent(OTHER, name="Not Yours"))
    unknown = uuid4()
    ids = [mine.id, archived.id, theirs.id, unknown]

    assert await store.agent_names(ids) == {
        mine.id: "Clarence",
        archived.id: "Old Clarence",
        theirs.id: "Not Yours",
    }
    # Scoped to one owner: another owner's agent is left out, as an unknown one is.
    assert await store.agent_names(ids, owner_id=OWNER) == {
        mine.id: "Clarence",
        archived.id: "Old Clarence",
    }
    assert await store.agent_names([], owner_id=OWNER) == {}


# --- sessions ----------------------------------------------------------------------------------


async def test_session_lifecycle_with_transcript_and_usage(store: AgentStore) -> None:
    agent = await store.create_agent(new_agent())
    session_id = uuid4()
    new = NewCallSession(
        id=session_id,
        agent_id=agent.id,
        owner_id=OWNER,
        room_name=f"agent-{agent.id}-abcdefgh",
        kind=SessionKind.TEST,
        deployment="dev",
        participant_identity="user:alice",
        job_id="AJ_123",
    )
    started = await store.start_session(new)
    assert started.status is SessionStatus.ACTIVE and started.ended_at is None
    assert await store.start_session(new) == started  # a retried start is the same row

    ended = await store.finish_session(session_id, end_reason=EndReason.GRACE_EXPIRED)
    assert ended.status is SessionStatus.ENDED and ended.end_reason is EndReason.GRACE_EXPIRED
    assert ended.ended_at is not None and ended.duration_s is not None and ended.duration_s >= 0
    # The first end wins: a late webhook cannot rewrite why the call ended.
    assert await store.finish_session(session_id, end_reason=EndReason.ROOM_CLOSED) == ended

    items = [
        {"type": "message", "role": "assistant", "content": ["Hi, this is Clarence."]},
        {"type": "message", "role": "user", "content": ["I need an appointment."]},
    ]
    await store.write_transcript(session_id, items, summary="Booked a cleaning.")
    assert await store.get_transcript(session_id) == (items, "Booked a cleaning.")
    await store.write_transcript(session_id, items[:1])  # replaced, not appended
    assert await store.get_transcript(session_id) == (items[:1], None)

    usage = [
        TokenUsage(
            model="gpt-realtime",
            input_tokens=5120,
            output_tokens=830,
            input_audio_tokens=4100,
            output_audio_tokens=700,
            audio_seconds=181.5,
        ),
        TokenUsage(model="gpt-4o-mini", input_tokens=900, output_tokens=60),
    ]
    await store.write_usage(session_id, usage)
    await store.write_usage(session_id, usage)  # idempotent per (session, model)
    assert await store.get_usage(session_id) == sorted(usage, key=lambda u: u.model)

    spoken = datetime(2026, 11, 21, 9, 0, 14, 210_000, tzinfo=UTC)
    turns = [
        CallTurn(turn=2, item_id="item_b", spoken_at=spoken, latency_s=0.742, model_ttfa_s=0.388),
        CallTurn(turn=1, item_id="item_a", spoken_at=spoken - timedelta(seconds=9)),
        CallTurn(turn=3, spoken_at=spoken + timedelta(seconds=5), latency_s=1.5, interrupted=True),
    ]
    await store.write_turns(session_id, turns)
    await store.write_turns(session_id, turns)  # idempotent per (session, turn)
    assert await store.get_turns(session_id) == sorted(turns, key=lambda t: t.turn)
    assert await store.get_turns(uuid4()) == []


async def test_the_job_that_takes_a_call_claims_the_row_the_backend_opened(
    store: AgentStore,
) -> None:
    agent = await store.create_agent(new_agent())
    opened = NewCallSession(
        id=uuid4(),
        agent_id=agent.id,
        owner_id=OWNER,
        room_name=f"agent-{agent.id}-claimed1",
        kind=SessionKind.TEST,
        deployment="dev",
        participant_identity="user:alice",
        agent_version=1,
    )
    row = await store.start_session(opened)  # the backend, with the room: no job yet
    assert row.job_id is None and row.agent_version == 1
    # The worker's start: its job is recorded; what the backend knew stays as it was.
    taken = opened.model_copy(update={"job_id": "AJ_1", "agent_version": None, "owner_id": None})
    claimed = await store.start_session(taken)
    assert (claimed.job_id, claimed.owner_id, claimed.agent_version) == ("AJ_1", OWNER, 1)
    assert claimed.started_at == row.started_at and claimed.status is SessionStatus.ACTIVE
    assert await store.start_session(taken) == claimed  # the same job's retried start
    # Another job (a re-dispatch after a worker died) does not take it over.
    assert await store.start_session(opened.model_copy(update={"job_id": "AJ_2"})) == claimed
    # Once the call ended, a later job's start changes nothing.
    ended = await store.finish_session(opened.id or uuid4(), end_reason=EndReason.USER_HANGUP)
    assert await store.start_session(opened.model_copy(update={"job_id": "AJ_2"})) == ended


async def test_a_session_is_marked_ending_once_and_only_while_open(store: AgentStore) -> None:
    session = await store.start_session(
        NewCallSession(agent_id=None, room_name="agent-ending", kind="test", deployment="dev")
    )
    assert session.ending_at is None
    await store.mark_ending(session.id)
    marked = await store.get_session(session.id)
    assert marked.status is SessionStatus.ACTIVE and marked.ending_at is not None
    await store.mark_ending(session.id)  # again: the first time stands
    assert (await store.get_session(session.id)).ending_at == marked.ending_at
    ended = await store.finish_session(session.id, end_reason=EndReason.USER_HANGUP)
    assert ended.ending_at == marked.ending_at
    closed = await store.start_session(
        NewCallSession(agent_id=None, room_name="agent-closed", kind="test", deployment="dev")
    )
    closed = await store.finish_session(closed.id, end_reason=EndReason.USER_HANGUP)
    await store.mark_ending(closed.id)
    assert (await store.get_session(closed.id)).ending_at is None


async def test_a_workers_late_end_replaces_an_end_the_backend_inferred(store: AgentStore) -> None:
    """The worker's end, spooled through a store outage, arrives after the backend closed the
    row as `room_closed`: the worker knows why the call ended, so its end is the one kept."""
    session = await store.start_session(
        NewCallSession(agent_id=None, room_name="agent-late", kind="test", deployment="dev")
    )
    inferred = await store.finish_session(session.id, end_reason=EndReason.ROOM_CLOSED)
    assert inferred.end_reason is EndReason.ROOM_CLOSED
    late = await store.finish_session(
        session.id, end_reason=EndReason.ERROR, status=SessionStatus.FAILED, error="model: gone"
    )
    assert (late.end_reason, late.status, late.error) == (
        EndReason.ERROR,
        SessionStatus.FAILED,
        "model: gone",
    )
    # Replayed again, or inferred again: nothing changes any more.
    assert await store.finish_session(session.id, end_reason=EndReason.GRACE_EXPIRED) == late
    assert await store.finish_session(session.id, end_reason=EndReason.LOST) == late


async def test_failed_session_records_the_error(store: AgentStore) -> None:
    session = await store.start_session(
        NewCallSession(agent_id=None, room_name="agent-y", kind="test", deployment="dev")
    )
    failed = await store.finish_session(
        session.id,
        end_reason=EndReason.ERROR,
        status=SessionStatus.FAILED,
        error="agent is archived",
    )
    assert failed.status is SessionStatus.FAILED and failed.error == "agent is archived"
    with pytest.raises(InvalidInput):
        await store.finish_session(
            session.id, end_reason=EndReason.ERROR, status=SessionStatus.ACTIVE
        )


async def test_session_references_are_checked(store: AgentStore, db: asyncpg.Connection) -> None:
    with pytest.raises(NotFound, match="referenced row does not exist"):
        await store.start_session(
            NewCallSession(agent_id=uuid4(), room_name="agent-z", kind="test", deployment="dev")
        )
    with pytest.raises(NotFound):
        await store.write_transcript(uuid4(), [])
    with pytest.raises(NotFound):
        await store.write_usage(uuid4(), [TokenUsage(model="gpt-realtime")])
    with pytest.raises(NotFound):
        await store.get_transcript(uuid4())
    assert await count(db, "call_sessions") == await count(db, "token_usage") == 0


async def test_list_sessions_filters(store: AgentStore) -> None:
    agent = await store.create_agent(new_agent())
    sessions = [
        await store.start_session(
            NewCallSession(
                agent_id=agent.id,
                owner_id=OWNER,
                room_name=f"room-{i}",
                kind="test",
                deployment="dev",
            )
        )
        for i in range(3)
    ]
    await store.start_session(
        NewCallSession(
            agent_id=None, room_name="voxie-creation-abcdefgh", kind="creation", deployment="dev"
        )
    )
    await store.finish_session(sessions[0].id, end_reason=EndReason.USER_HANGUP)

    by_agent = await store.list_sessions(agent_id=agent.id)
    assert by_agent.total == 3 and [s.id for s in by_agent.items] == [s.id for s in sessions[::-1]]
    assert (await store.list_sessions(agent_id=agent.id, open_only=True)).total == 2
    assert (await store.list_sessions(room_name="room-1")).items == [sessions[1]]
    assert (await store.list_sessions(owner_id=OWNER, limit=1, offset=1)).items == [sessions[1]]
    assert (await store.list_sessions()).total == 4


async def test_list_sessions_filters_by_kind(store: AgentStore) -> None:
    mine, theirs = await store.create_agent(new_agent()), await store.create_agent(new_agent(OTHER))

    async def started(agent_id: UUID | None, owner: UUID, kind: SessionKind) -> UUID:
        session = await store.start_session(
            NewCallSession(
                agent_id=agent_id,
                owner_id=owner,
                room_name=f"room-{uuid4().hex[:8]}",
                kind=kind,
                deployment="dev",
            )
        )
        return session.id

    test, live, creation = SessionKind.TEST, SessionKind.LIVE, SessionKind.CREATION
    # Oldest first; each kind interleaved with the others so a page must skip rows to fill.
    made = [
        (await started(mine.id, OWNER, test), test, OWNER, mine.id),
        (await started(mine.id, OWNER, live), live, OWNER, mine.id),
        (await started(None, OWNER, creation), creation, OWNER, None),
        (await started(theirs.id, OTHER, live), live, OTHER, theirs.id),
        (await started(mine.id, OWNER, live), live, OWNER, mine.id),
        (await started(theirs.id, OTHER, test), test, OTHER, theirs.id),
        (await started(mine.id, OWNER, live), live, OWNER, mine.id),
    ]

    def expected(
        kind: SessionKind, owner: UUID | None = None, agent: UUID | None = None
    ) -> list[UUID]:
        return [
            sid
            for sid, k, o, a in reversed(made)
            if k is kind and owner in (None, o) and agent in (None, a)
        ]

    # Alone: every owner's sessions of that kind, newest first, the total over all of them.
    lives = await store.list_sessions(kind=live)
    assert [s.id for s in lives.items] == expected(live) and lives.total == 4
    assert {s.kind for s in lives.items} == {live}
    assert [s.id for s in (await store.list_sessions(kind=creation)).items] == expected(creation)
    # With an agent, and within one owner's scope (what a user sees).
    assert [s.id for s in (await store.list_sessions(kind=live, agent_id=mine.id)).items] == (
        expected(live, agent=mine.id)
    )
    assert [s.id for s in (await store.list_sessions(kind=test, owner_id=OWNER)).items] == (
        expected(test, owner=OWNER)
    )
    assert (await store.list_sessions(kind=creation, owner_id=OTHER)).total == 0
    assert (await store.list_sessions(kind=test, agent_id=theirs.id, owner_id=OWNER)).total == 0
    # Paged: the total counts the filtered rows, not the page and not the unfiltered ones.
    second = await store.list_sessions(kind=live, owner_id=OWNER, limit=2, offset=2)
    assert [s.id for s in second.items] == expected(live, owner=OWNER)[2:]
    assert second.total == 3 and (await store.list_sessions(owner_id=OWNER)).total == 5
    open_tests = await store.list_sessions(kind=test, open_only=True)
    assert open_tests.total == 2


# --- worker heartbeats ---------------------------------------------------------------------------


def beat(worker_id: str, *, active: int = 0, available: bool = True) -> WorkerBeat:
    return WorkerBeat(
        worker_id=worker_id,
        agent_name="spawner-test",
        role=WorkerRole.SPAWNER,
        deployment="test",
        active_sessions=active,
        max_sessions=2,
        available=available,
        draining=False,
    )


async def test_a_worker_is_alive_while_its_heartbeat_lasts(store: AgentStore) -> None:
    assert await store.live_workers() == []
    await store.worker_heartbeat(beat("AW_one"), ttl_s=30)
    await store.worker_heartbeat(beat("AW_short"), ttl_s=0.2)
    listed = await store.live_workers()
    [one, short] = listed  # oldest registration first
    assert (one.worker_id, one.role, one.agent_name) == (
        "AW_one",
        WorkerRole.SPAWNER,
        "spawner-test",
    )
    assert one.available and one.available_since is not None and short.worker_id == "AW_short"
    await asyncio.sleep(0.3)
    assert [w.worker_id for w in await store.live_workers()] == ["AW_one"]
    assert await store.worker_gone("AW_one")
    assert not await store.worker_gone("AW_one")
    assert await store.live_workers() == []
    with pytest.raises(InvalidInput):
        await store.worker_heartbeat(beat("AW_one"), ttl_s=0)


async def test_available_since_is_when_a_worker_last_gained_room(store: AgentStore) -> None:
    await store.worker_heartbeat(beat("AW_w", active=1), ttl_s=30)
    [first] = await store.live_workers()
    await store.worker_heartbeat(beat("AW_w", active=1), ttl_s=30)
    [same] = await store.live_workers()
    assert same.available_since == first.available_since  # still available: unchanged
    assert same.last_seen > first.last_seen
    await store.worker_heartbeat(beat("AW_w", active=2, available=False), ttl_s=30)
    [full] = await store.live_workers()
    assert not full.available and full.available_since is None and full.active_sessions == 2
    await store.worker_heartbeat(beat("AW_w", active=1), ttl_s=30)
    [freed] = await store.live_workers()
    assert freed.available_since is not None and first.available_since is not None
    assert freed.available_since > first.available_since
    assert freed.registered_at == first.registered_at


# --- leases ------------------------------------------------------------------------------------


async def test_leases_give_one_holder_at_a_time(store: AgentStore) -> None:
    assert await store.acquire_lease("reconciler", "backend-a", 30)
    assert not await store.acquire_lease("reconciler", "backend-b", 30)
    assert await store.acquire_lease("reconciler", "backend-a", 30)  # re-acquire is a renewal
    assert await store.renew_lease("reconciler", "backend-a", 30)
    assert not await store.renew_lease("reconciler", "backend-b", 30)
    assert not await store.release_lease("reconciler", "backend-b")
    assert await store.release_lease("reconciler", "backend-a")
    assert await store.acquire_lease("reconciler", "backend-b", 30)
    assert await store.acquire_lease("other-task", "backend-a", 30)  # leases are per name


async def test_an_expired_lease_can_be_taken_over(store: AgentStore) -> None:
    assert await store.acquire_lease("reconciler", "backend-a", 0.2)
    await asyncio.sleep(0.4)
    assert not await store.renew_lease("reconciler", "backend-a", 30)
    assert await store.acquire_lease("reconciler", "backend-b", 30)


async def test_concurrent_acquires_have_one_winner(store: AgentStore) -> None:
    results = await asyncio.gather(
        *(store.acquire_lease("reconciler", f"backend-{i}", 30) for i in range(8))
    )
    assert sorted(results) == [False] * 7 + [True]


async def test_lease_ttl_is_validated(store: AgentStore) -> None:
    with pytest.raises(InvalidInput):
        await store.acquire_lease("reconciler", "backend-a", 0)


# --- agent slots (MAX_TOTAL_AGENTS) ------------------------------------------------------------


async def test_concurrent_slot_reservations_never_pass_the_cap(store: AgentStore) -> None:
    results = await asyncio.gather(
        *(
            store.reserve_agent_slot(f"agent-room-{i}", cap=2, listed=[], ttl_s=60)
            for i in range(30)
        )
    )
    assert results.count(True) == 2


async def test_listed_rooms_count_once_and_a_released_slot_is_free_again(
    store: AgentStore,
) -> None:
    # A room LiveKit lists takes a place even if no slot was reserved for it (another
    # deployment's, or one whose slot expired), and a reserved room it lists counts once.
    assert await store.reserve_agent_slot("room-a", cap=2, listed=["room-x"], ttl_s=60)
    assert not await store.reserve_agent_slot("room-b", cap=2, listed=["room-x"], ttl_s=60)
    assert await store.reserve_agent_slot("room-b", cap=2, listed=["room-a"], ttl_s=60)
    # Asking again for a room that holds a slot renews it rather than taking another.
    assert await store.reserve_agent_slot("room-a", cap=2, listed=[], ttl_s=60)
    assert await store.release_agent_slot("room-a")
    assert not await store.release_agent_slot("room-a")
    assert await store.reserve_agent_slot("room-c", cap=2, listed=[], ttl_s=60)


async def test_slots_expire_and_the_sweep_frees_only_old_unlisted_ones(store: AgentStore) -> None:
    assert await store.reserve_agent_slot("room-a", cap=1, listed=[], ttl_s=0.2)
    await asyncio.sleep(0.4)
    assert await store.reserve_agent_slot("room-b", cap=1, listed=[], ttl_s=60)  # a expired
    assert await store.release_agent_slots_except(["room-b"], older_than_s=0) == 0
    assert await store.release_agent_slots_except([], older_than_s=3600) == 0  # too young
    assert await store.release_agent_slots_except([], older_than_s=0) == 1
    assert await store.reserve_agent_slot("room-c", cap=1, listed=[], ttl_s=60)


async def test_slot_arguments_are_validated(store: AgentStore) -> None:
    with pytest.raises(InvalidInput):
        await store.reserve_agent_slot("room-a", cap=0, listed=[], ttl_s=60)
    with pytest.raises(InvalidInput):
        await store.reserve_agent_slot("room-a", cap=1, listed=[], ttl_s=0)
