"""The factory's real OpenAI models, in real AgentSessions (text mode), against the OpenAI
double: what the model is told, the tools it calls, the pipeline, the summary, and the faults
of the model side (unreachable at start, a dropped socket, malformed tool arguments)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from livekit.agents import AgentSession, CloseEvent, CloseReason
from livekit.agents.voice.run_result import RunResult

from shared.contracts import AgentConfig, Pipeline
from shared.recording import usage_from
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from spawner import factory
from spawner.summary import summarize
from tests.conftest import make_settings
from tests.spawner.conftest import SECRETS_KEY, granted
from tests.spawner.test_agent import stored
from tests.support.openai import ApiError, OpenAIDouble, ToolCall, Turn
from voxiectl.livekit_local import free_port


def settings_at(base_url: str) -> Settings:
    return make_settings(
        openai_api_key="EMPTY",
        openai_base_url=base_url,
        secrets_keys=[SECRETS_KEY],
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@contextlib.asynccontextmanager
async def running(session: AgentSession[Any]) -> AsyncIterator[None]:
    """The session, then its models closed: outside a job no shared HTTP session owns their
    connections."""
    async with session:
        yield
    for model in (session.llm, session.stt, session.tts):
        if model is not None:
            await model.aclose()


async def started(
    config: AgentConfig, settings: Settings, http: httpx.AsyncClient, store: PostgresStore
) -> tuple[AgentSession[Any], RunResult[None], list[CloseEvent]]:
    """A session started as the spawner starts one; the greeting's run is captured."""
    tools = await granted(store, settings, http, allow=["127.0.0.1"])
    agent = factory.build_agent(config, tools, on_end_call=lambda: None)
    session = factory.build_session(config, settings)
    closed: list[CloseEvent] = []
    session.on("close", closed.append)
    greeting: RunResult[None] = await session.start(agent, capture_run=True)
    return session, greeting, closed


async def started_as_the_call_starts_it(
    config: AgentConfig, settings: Settings, http: httpx.AsyncClient, store: PostgresStore
) -> tuple[AgentSession[Any], asyncio.Future[CloseEvent]]:
    """Like `spawner.call`: `start` returns once the agent is running, whatever the model does
    next; a failing model then closes the session (the call ends on `close`)."""
    tools = await granted(store, settings, http, allow=["127.0.0.1"])
    agent = factory.build_agent(config, tools, on_end_call=lambda: None)
    session = factory.build_session(config, settings)
    closed: asyncio.Future[CloseEvent] = asyncio.get_running_loop().create_future()

    @session.on("close")
    def on_close(event: CloseEvent) -> None:
        if not closed.done():
            closed.set_result(event)

    await asyncio.wait_for(session.start(agent), 20)
    return session, closed


async def test_a_realtime_agent_greets_and_books_through_the_double(
    openai_double: OpenAIDouble, store: PostgresStore, clinic: str, http: httpx.AsyncClient
) -> None:
    config = await stored(store, clinic, voice="sage")
    settings = settings_at(openai_double.base_url)
    openai_double.script(
        config.greeting,
        Turn(calls=[ToolCall("book_appointment", {"start": "10:00"})]),
        "You're booked for ten.",
    )
    session, greeting, _ = await started(config, settings, http, store)
    async with running(session):
        await asyncio.wait_for(greeting, 20)
        result: RunResult[None] = await asyncio.wait_for(
            session.run(user_input="Book me at ten please"), 20
        )
    result.expect.next_event().is_function_call(name="book_appointment")
    booked = result.expect.next_event().is_function_call_output(is_error=False)
    assert '"booked":"10:00"' in booked.event().item.output
    result.expect.next_event().is_message(role="assistant")

    record = openai_double.last()
    assert record.model == config.model and record.voice == "sage"
    assert config.instructions in str(record.instructions)
    assert set(record.tool_names) == {"book_appointment", "end_call"}
    greet = record.responses[0]
    assert config.greeting in str(greet.instructions)  # asked to say exactly the greeting
    assert [json.loads(o["output"])["booked"] for o in record.function_outputs] == ["10:00"]
    texts = [m.text_content for m in session.history.messages() if m.role == "assistant"]
    assert texts == [config.greeting, "You're booked for ten."]
    # response.done's usage is what the call records, per model.
    [usage] = usage_from(session.usage)
    assert usage.model == config.model
    assert usage.input_tokens > 0 and usage.output_audio_tokens > 0
    openai_double.assert_consumed()


async def test_malformed_tool_arguments_come_back_to_the_model_and_the_call_carries_on(
    openai_double: OpenAIDouble, store: PostgresStore, clinic: str, http: httpx.AsyncClient
) -> None:
    config = await stored(store, clinic, greeting="")
    openai_double.script(
        Turn(calls=[ToolCall("book_appointment", '{"start": "10:')]),
        "Sorry, what time was that?",
    )
    session, _, closed = await started(config, settings_at(openai_double.base_url), http, store)
    async with running(session):
        result: RunResult[None] = await asyncio.wait_for(session.run(user_input="Ten please"), 20)
    result.expect.next_event().is_function_call(name="book_appointment")
    refused = result.expect.next_event().is_function_call_output(is_error=True)
    result.expect.next_event().is_message(role="assistant")
    assert "book_appointment" in refused.event().item.output
    [output] = openai_double.last().function_outputs  # the model was told, not left waiting
    assert output["output"] == refused.event().item.output
    assert not closed or closed[0].error is None


async def test_a_pipeline_agent_and_the_summary_run_on_chat_completions(
    openai_double: OpenAIDouble, store: PostgresStore, clinic: str, http: httpx.AsyncClient
) -> None:
    config = await stored(store, clinic, greeting="", pipeline=Pipeline.STT_LLM_TTS)
    settings = settings_at(openai_double.base_url)
    openai_double.script(
        Turn(calls=[ToolCall("book_appointment", {"start": "10:00"})]),
        "You're booked for ten.",
        "The caller booked an appointment at 10:00.",
    )
    session, _, _ = await started(config, settings, http, store)
    async with running(session):
        result: RunResult[None] = await asyncio.wait_for(session.run(user_input="Ten please"), 20)
        summary = await summarize(factory.summary_model(settings), session.history)
    result.expect.contains_function_call(name="book_appointment")
    assert summary == "The caller booked an appointment at 10:00."
    call, answer, summarized = openai_double.chats
    assert call.model == answer.model == factory.PIPELINE_LLM_MODEL
    assert config.instructions in call.instructions and "book_appointment" in call.tool_names
    assert summarized.model == settings.summary_model and "Ten please" in json.dumps(
        summarized.messages
    )
    openai_double.assert_consumed()


async def ended_with_error(closed: asyncio.Future[CloseEvent]) -> CloseEvent:
    """The session closes by itself, with the error (no hang). The deadline is generous: the
    plugin retries with backoff first."""
    end = await asyncio.wait_for(closed, 60)
    assert end.reason is CloseReason.ERROR and end.error is not None
    return end


async def test_an_unreachable_model_endpoint_ends_the_session_with_an_error(
    store: PostgresStore, clinic: str, http: httpx.AsyncClient
) -> None:
    config = await stored(store, clinic)
    settings = settings_at(f"http://127.0.0.1:{free_port()}/v1")
    session, closed = await started_as_the_call_starts_it(config, settings, http, store)
    async with running(session):
        end = await ended_with_error(closed)
    assert end.error is not None and "connection" in str(end.error.error).lower()


async def test_a_socket_dropped_mid_call_that_cannot_reconnect_ends_the_session(
    openai_double: OpenAIDouble, store: PostgresStore, clinic: str, http: httpx.AsyncClient
) -> None:
    config = await stored(store, clinic)
    openai_double.script(Turn(say=config.greeting or "Hello.", drop_after=2))
    settings = settings_at(openai_double.base_url)
    session, closed = await started_as_the_call_starts_it(config, settings, http, store)
    async with running(session):
        await openai_double.wait_for(
            lambda: openai_double.realtime and openai_double.last().dropped
        )
        openai_double.refuse(ApiError("server_error", "Service unavailable.", status=503))
        await ended_with_error(closed)
    assert len(openai_double.realtime) == 1  # every reconnection was refused
