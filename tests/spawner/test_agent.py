"""A stored agent runs as a real AgentSession in text mode: the factory's mapping, its tools
against a real local API, end_call and the end-of-call records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from livekit.agents import AgentSession
from livekit.agents.voice.run_result import RunResult
from livekit.plugins import openai

from shared.contracts import AgentConfig, EndReason, Pipeline
from shared.recording import call_end
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from spawner import factory
from spawner.lifecycle import Lifecycle
from spawner.loader import ConfigLoader
from spawner.summary import summarize
from spawner.tools import ToolContext
from tests.conftest import make_settings
from tests.spawner.conftest import SECRET, granted, new_agent, tool_settings
from tests.support.scripted_llm import MODEL, Reply, ScriptedLLM, ToolCall

BOOK = {
    "type": "http",
    "name": "book_appointment",
    "description": "Book a slot. Call only after the caller confirmed the time.",
    "parameters": {
        "type": "object",
        "properties": {"start": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"}},
        "required": ["start"],
        "additionalProperties": False,
    },
    "method": "POST",
    "headers": {"Authorization": {"secret": "CLINIC_API_TOKEN"}},
    "timeout_s": 5,
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def stored(store: PostgresStore, clinic: str, **overrides: Any) -> AgentConfig:
    tools = [{**BOOK, "url": f"{clinic}/bookings"}, {"type": "builtin", "name": "end_call"}]
    created = await store.create_agent(new_agent(tools=tools, **overrides))
    # Through the spawner's own loader, as a job gets it.
    return await ConfigLoader(store).get(created.id)


def session_for(config: AgentConfig, settings: Settings, model: ScriptedLLM) -> AgentSession[Any]:
    return factory.build_session(config, settings, models=factory.Models(llm=model))


async def booking_turn(
    config: AgentConfig, settings: Settings, tools: ToolContext, *replies: Reply | str
) -> RunResult[None]:
    """One caller turn asking to book, answered by `replies`; every reply must be used."""
    model = ScriptedLLM(replies)
    agent = factory.build_agent(config, tools, on_end_call=lambda: None)
    async with session_for(config, settings, model) as session:
        await session.start(agent)
        result: RunResult[None] = await session.run(user_input="Book me at ten please")
    model.assert_consumed()
    return result


async def test_the_stored_greeting_and_instructions_are_applied(
    store: PostgresStore, clinic: str, http: httpx.AsyncClient
) -> None:
    settings = tool_settings()
    config = await stored(store, clinic, language="pt-BR")
    model = ScriptedLLM(["Claro, posso ajudar."])
    tools = await granted(store, settings, http, allow=[])
    agent = factory.build_agent(config, tools, on_end_call=lambda: None)
    async with session_for(config, settings, model) as session:
        greeting: RunResult[None] = await session.start(agent, capture_run=True)
        greeting.expect.next_event().is_agent_handoff()
        greeting.expect.next_event().is_message(role="assistant")
        greeting.expect.no_more_events()
        result: RunResult[None] = await session.run(user_input="Olá, queria marcar uma consulta")
        result.expect.next_event().is_message(role="assistant")
        history = [(m.role, m.text_content) for m in session.history.messages()]

    assert history[0] == ("assistant", config.greeting)  # the greeting is the first turn
    [request] = model.requests
    assert config.instructions in request.instructions
    assert "pt-BR" in request.instructions
    assert set(request.tool_names) == {"book_appointment", "end_call"}
    model.assert_consumed()


async def test_an_http_tool_is_called_with_validated_arguments(
    store: PostgresStore, clinic: str, http: httpx.AsyncClient
) -> None:
    settings = tool_settings()
    config = await stored(store, clinic, greeting="")
    result = await booking_turn(
        config,
        settings,
        await granted(store, settings, http, allow=["127.0.0.1"]),
        Reply(calls=[ToolCall("book_appointment", {"start": "ten o'clock"})]),
        Reply(calls=[ToolCall("book_appointment", {"start": "10:00"})]),
        "You're booked for ten.",
    )
    result.expect.next_event().is_function_call(name="book_appointment")
    refused = result.expect.next_event().is_function_call_output(is_error=True)
    result.expect.next_event().is_function_call(
        name="book_appointment", arguments={"start": "10:00"}
    )
    booked = result.expect.next_event().is_function_call_output(is_error=False)
    result.expect.next_event().is_message(role="assistant")

    assert "invalid arguments for book_appointment" in refused.event().item.output
    assert "does not match" in refused.event().item.output
    output = booked.event().item.output
    assert '"booked":"10:00"' in output and SECRET in output


async def test_an_internal_url_comes_back_to_the_model_as_a_tool_error(
    store: PostgresStore, clinic: str, http: httpx.AsyncClient
) -> None:
    settings = tool_settings()
    config = await stored(store, clinic, greeting="")
    result = await booking_turn(
        config,
        settings,
        await granted(store, settings, http, allow=[]),  # the same 127.0.0.1 URL, not exempt
        Reply(calls=[ToolCall("book_appointment", {"start": "10:00"})]),
        "Sorry, I cannot book right now.",
    )
    result.expect.next_event().is_function_call(name="book_appointment")
    refused = result.expect.next_event().is_function_call_output(is_error=True)
    result.expect.next_event().is_message(role="assistant")  # the session carries on
    assert "internal address" in refused.event().item.output


async def test_end_call_closes_the_call_and_its_records_hold_transcript_usage_and_summary(
    store: PostgresStore, clinic: str, http: httpx.AsyncClient
) -> None:
    settings = tool_settings()
    config = await stored(store, clinic, summarize=True)
    lifecycle = Lifecycle(grace_period_s=60)
    lifecycle.human_joined("user:1")
    lifecycle.session_started()
    model = ScriptedLLM([Reply(text="Goodbye, have a nice day!", calls=[ToolCall("end_call")])])
    agent = factory.build_agent(
        config,
        await granted(store, settings, http, allow=[]),
        on_end_call=lambda: lifecycle.close(EndReason.END_CALL),
    )
    async with session_for(config, settings, model) as session:
        await session.start(agent, capture_run=True)
        result: RunResult[None] = await session.run(user_input="That's all, bye")
        result.expect.contains_function_call(name="end_call")
        assert lifecycle.end_reason is EndReason.END_CALL

        summarizer = ScriptedLLM(["The caller said goodbye; nothing was booked."])
        summary = await summarize(summarizer, session.history)
        end = call_end(uuid4(), EndReason.END_CALL, session, summary=summary)

    texts = [item.get("content") for item in end.transcript if item.get("type") == "message"]
    assert [config.greeting] in texts and ["That's all, bye"] in texts
    assert end.summary == "The caller said goodbye; nothing was booked."
    assert "That's all, bye" in summarizer.requests[0].chat_ctx.messages()[-1].text_content  # type: ignore[operator]
    assert [u.model for u in end.usage] == [MODEL]
    assert end.usage[0].input_tokens > 0


def config_of(**fields: Any) -> AgentConfig:
    """A stored agent's config without the store: for the factory's pure mapping."""
    stored = {"id": uuid4(), "version": 1, "created_at": "2026-11-21T09:00:00Z"}
    return AgentConfig.model_validate(
        {**new_agent().model_dump(), **stored, "updated_at": stored["created_at"], **fields}
    )


def test_the_factory_maps_model_voice_and_pipeline() -> None:
    settings = make_settings(openai_api_key="sk-test")
    config = config_of(voice="sage", model="gpt-realtime-1.5")
    realtime = factory.models_for(config, settings)
    assert isinstance(realtime.llm, openai.realtime.RealtimeModel)
    assert (realtime.llm.model, realtime.llm._opts.voice) == ("gpt-realtime-1.5", "sage")
    assert realtime.tts is None

    pipeline = factory.models_for(
        config.model_copy(update={"pipeline": Pipeline.STT_LLM_TTS}), settings
    )
    assert isinstance(pipeline.tts, openai.TTS) and pipeline.stt is not None
    assert pipeline.tts._opts.voice == "sage"


def test_every_model_is_built_at_its_configured_endpoint() -> None:
    settings = make_settings(
        openai_api_key="EMPTY",
        openai_base_url="http://gateway.internal:4000/v1",
        openai_llm_base_url="http://ollama.internal:11434/v1",
        openai_tts_base_url="https://tts.example.com/v1",
    )
    config = config_of()
    realtime = factory.models_for(config, settings)
    pipeline = factory.models_for(
        config.model_copy(update={"pipeline": Pipeline.STT_LLM_TTS}), settings
    )
    assert pipeline.stt is not None and pipeline.tts is not None
    # `provider` is each plugin's public view of the host it talks to.
    assert realtime.llm.provider == "gateway.internal:4000"
    assert pipeline.llm.provider == "ollama.internal:11434"
    assert pipeline.stt.provider == "gateway.internal:4000"
    assert pipeline.tts.provider == "tts.example.com"
    assert factory.summary_model(settings).provider == "gateway.internal:4000"


@pytest.mark.parametrize(
    ("url", "setting", "enabled"),
    [
        ("wss://voxie-abc.livekit.cloud", "auto", True),
        ("ws://127.0.0.1:7880", "auto", False),
        ("ws://127.0.0.1:7880", "on", True),
        ("wss://voxie-abc.livekit.cloud", "off", False),
    ],
)
def test_noise_cancellation_only_where_it_works(url: str, setting: str, enabled: bool) -> None:
    settings = make_settings(livekit_url=url, noise_cancellation=setting)
    assert factory.noise_cancellation_enabled(settings) is enabled
    options = factory.room_options(settings)
    assert options.close_on_disconnect is False  # the grace period decides, not the SDK
    audio = options.get_audio_input_options()
    assert audio is not None and (audio.noise_cancellation is not None) is enabled
