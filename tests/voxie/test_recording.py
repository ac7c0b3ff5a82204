"""A creation session is recorded (transcript, token usage), and a store outage loses nothing:
neither the draft the user is dictating nor the session's records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import pytest

from shared.contracts import AgentStatus, EndReason, NewCallSession, SessionKind, SessionStatus
from shared.contracts.room_messages import VOXIE_DRAFT
from shared.naming import voxie_room_name
from shared.recording import SessionRecorder, call_end
from shared.runtime import Runtime
from shared.store.postgres import PostgresStore
from tests.conftest import make_settings
from tests.support.call_room import WAIT_S, ScriptedRoom
from tests.support.scripted_llm import MODEL, Reply, ScriptedLLM, ToolCall
from tests.support.tcp_proxy import TcpProxy, target_of, via
from tests.voxie.conftest import RecordingSender, creation_call
from tests.voxie.conversation import GREETING, conversation
from voxie.draft import Draft


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(target_of(database_url)) as running:
        yield running


@pytest.fixture
async def cuttable(database_url: str, proxy: TcpProxy) -> AsyncIterator[PostgresStore]:
    """A store whose network path to the real database the test can cut."""
    connected = await PostgresStore.connect(via(database_url, proxy), attempts=2, timeout_s=3)
    yield connected
    await connected.close()


def creation(owner: UUID) -> NewCallSession:
    return NewCallSession(
        agent_id=None,
        owner_id=owner,
        room_name=voxie_room_name(),
        kind=SessionKind.CREATION,
        deployment="test",
        participant_identity=f"user:{owner}",
        job_id="AJ_voxie",
    )


async def test_a_creation_session_is_recorded_with_its_transcript_and_usage(
    store: PostgresStore, owner: UUID, draft: Draft, tmp_path: Path
) -> None:
    recorder = SessionRecorder(store, tmp_path)
    session_id = await recorder.start(creation(owner))
    async with conversation(draft) as talk:
        await talk.say("I need a receptionist for my bakery.", "Lovely! What is it called?")
        await talk.tool("set_name", name="Crumb")
        assert await recorder.finish(call_end(session_id, EndReason.USER_HANGUP, talk.session))

    row = await store.get_session(session_id)
    assert (row.kind, row.status, row.end_reason) == (
        SessionKind.CREATION,
        SessionStatus.ENDED,
        EndReason.USER_HANGUP,
    )
    assert row.owner_id == owner
    items, _summary = await store.get_transcript(session_id)
    said = [item.get("content") for item in items if item.get("role") == "user"]
    assert ["I need a receptionist for my bakery."] in said
    assert any(item.get("name") == "set_name" for item in items)
    [usage] = await store.get_usage(session_id)
    # Greeting, answer, tool call, answer: four model calls of 40 prompt + 8 completion tokens.
    assert (usage.model, usage.input_tokens, usage.output_tokens) == (MODEL, 160, 32)
    assert recorder.pending == 0


async def test_a_creation_call_is_recorded_once_with_its_first_end_through_the_process_runtime(
    runtime: Runtime, store: PostgresStore
) -> None:
    room = ScriptedRoom()
    model = ScriptedLLM([GREETING])
    call = await creation_call(
        room, runtime, make_settings(openai_api_key="sk-test"), store, model=model
    )
    task = asyncio.create_task(call.run())
    await room.until("active")
    assert room.session is not None
    model.push(Reply(calls=[ToolCall("set_name", {"name": "Crumb"})]), "Crumb it is.")
    await room.session.run(user_input="Call it Crumb.")
    call.end(EndReason.USER_HANGUP)
    call.end(EndReason.SHUTDOWN)  # the shutdown the hang-up causes
    room.disconnect()
    async with asyncio.timeout(WAIT_S):
        await task

    [row] = (await store.list_sessions(room_name=room.name)).items
    assert (row.kind, row.status, row.end_reason) == (
        SessionKind.CREATION,
        SessionStatus.ENDED,
        EndReason.USER_HANGUP,
    )
    assert row.owner_id == call.owner_id
    items, _ = await store.get_transcript(row.id)
    assert any(item.get("name") == "set_name" for item in items)
    assert room.shut_down and not room.deleted
    # The draft went to the browser as a text stream from Voxie's participant.
    assert [topic for topic, _ in room.texts] == [VOXIE_DRAFT]
    await runtime.call(runtime.store.ping())  # the process's store outlives the call


async def test_a_session_that_never_reached_its_room_is_recorded_as_failed(
    store: PostgresStore, owner: UUID, tmp_path: Path
) -> None:
    recorder = SessionRecorder(store, tmp_path)
    session_id = await recorder.start(creation(owner))
    assert await recorder.finish(call_end(session_id, EndReason.ERROR, error="no SFU"))
    row = await store.get_session(session_id)
    assert (row.status, row.end_reason, row.error) == (SessionStatus.FAILED, "error", "no SFU")
    assert await store.get_usage(session_id) == []


async def test_a_store_outage_loses_neither_the_draft_nor_the_session(
    cuttable: PostgresStore,
    store: PostgresStore,
    proxy: TcpProxy,
    owner: UUID,
    sender: RecordingSender,
    tmp_path: Path,
) -> None:
    recorder = SessionRecorder(cuttable, tmp_path)
    draft = await Draft.open(cuttable, sender, owner, None)
    async with conversation(draft) as talk:
        proxy.cut()
        session_id = await recorder.start(creation(owner))  # spooled, not raised
        kept = await talk.tool("set_name", name="Crumb")
        assert not kept.is_error and "database is unreachable" in kept.output
        assert sender.drafts[-1].fields["name"] == "Crumb"  # the browser still sees it
        proxy.restore()
        assert (await store.list_agents(owner)).total == 0

        await talk.tool("set_voice", voice="coral")  # the store is back: both are written
        agent = (await store.list_agents(owner)).items[0]
        assert (agent.name, agent.voice, agent.status) == ("Crumb", "coral", AgentStatus.DRAFT)

        await talk.tool("set_greeting", greeting="Hi, Crumb bakery!")
        await talk.tool("set_instructions", instructions="You take cake orders for Crumb.")
        await talk.tool("review_draft")
        proxy.cut()
        refused = await talk.tool("save_agent")
        assert refused.is_error and "unreachable" in refused.output
        await talk.tool("set_greeting", greeting="Hello from Crumb!")  # kept for later
        assert not await recorder.finish(call_end(session_id, EndReason.USER_HANGUP, talk.session))
        await draft.flush()  # the session ends during the outage: nothing to write to
        proxy.restore()
        await draft.flush()  # the next chance, once it is back

    assert (await store.get_agent(agent.id)).greeting == "Hello from Crumb!"
    assert recorder.pending == 1
    assert await recorder.replay() == 1
    row = await store.get_session(session_id)
    assert (row.status, row.end_reason) == (SessionStatus.ENDED, EndReason.USER_HANGUP)
    items, _ = await store.get_transcript(session_id)
    assert any(item.get("name") == "save_agent" for item in items)
