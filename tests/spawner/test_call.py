"""The spawner's own part of the shared call skeleton (the shared ends: tests/shared/test_call.py):
the agent's `end_call` tool and the grace period, each deleting the room with the call, and a
job without dispatch metadata."""

from __future__ import annotations

import asyncio

from shared.contracts import EndReason, SessionKind, SessionStatus
from shared.runtime import Runtime
from shared.store.postgres import PostgresStore
from spawner import factory
from spawner.call import SpawnedCall
from tests.conftest import make_settings
from tests.spawner.conftest import new_agent, spawned_call
from tests.support.call_room import WAIT_S, ScriptedRoom
from tests.support.scripted_llm import Reply, ScriptedLLM, ToolCall


async def test_the_agents_end_call_tool_ends_the_call_and_deletes_the_room(
    runtime: Runtime, store: PostgresStore
) -> None:
    room = ScriptedRoom()
    model = ScriptedLLM([Reply(text="Bye now!", calls=[ToolCall("end_call")])])
    call = await spawned_call(
        room, runtime, make_settings(openai_api_key="sk-test"), store, model=model
    )
    task = asyncio.create_task(call.run())
    await room.until("active")
    assert room.session is not None
    room.session.generate_reply(user_input="Thanks, that's all. Bye!")
    async with asyncio.timeout(WAIT_S):
        await task
    [session] = (await store.list_sessions(room_name=room.name)).items
    assert (session.end_reason, session.status) == (EndReason.END_CALL, SessionStatus.ENDED)
    assert session.tool_calls == 1
    assert room.deleted and room.was("closing")


async def test_the_last_human_leaving_ends_the_call_when_the_grace_period_runs_out(
    runtime: Runtime, store: PostgresStore
) -> None:
    room = ScriptedRoom()
    settings = make_settings(openai_api_key="sk-test", grace_period_s=0.5)
    call = await spawned_call(room, runtime, settings, store)
    task = asyncio.create_task(call.run())
    await room.until("active")
    room.leave("user:tester")
    async with asyncio.timeout(WAIT_S):
        await task
    [session] = (await store.list_sessions(room_name=room.name)).items
    assert (session.end_reason, session.status) == (EndReason.GRACE_EXPIRED, SessionStatus.ENDED)
    assert room.was("grace") and room.deleted


async def test_a_job_dispatched_without_metadata_runs_the_rooms_agent_as_a_test_call(
    runtime: Runtime, store: PostgresStore
) -> None:
    agent = await store.create_agent(new_agent())
    room = ScriptedRoom()
    call = SpawnedCall(
        room,
        runtime,
        make_settings(openai_api_key="sk-test"),
        None,  # the routing rule found the agent by the room's name
        agent_id=agent.id,
        models=lambda _: factory.Models(ScriptedLLM([])),
    )
    task = asyncio.create_task(call.run())
    await room.until("active")
    room.disconnect()
    async with asyncio.timeout(WAIT_S):
        await task
    [session] = (await store.list_sessions(room_name=room.name)).items
    assert (session.agent_id, session.kind, session.participant_identity) == (
        agent.id,
        SessionKind.TEST,
        None,
    )
    assert session.end_reason is EndReason.USER_HANGUP
