"""The double against the real `livekit-plugins-openai` RealtimeModel and its session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import APIConnectionError, APIConnectOptions, llm
from livekit.agents.metrics import RealtimeModelMetrics
from livekit.plugins import openai

from tests.support.openai import ApiError, OpenAIDouble, ToolCall, Turn, audio

GREETING = "Hello, thanks for calling Northside Clinic."


@dataclass
class Heard:
    """One generation as the agent received it."""

    text: str = ""
    frames: list[rtc.AudioFrame] = field(default_factory=list)
    calls: list[llm.FunctionCall] = field(default_factory=list)

    @property
    def audio_ms(self) -> float:
        return sum(f.duration for f in self.frames) * 1000

    @property
    def loudest(self) -> float:
        return max((audio.rms(bytes(f.data)) for f in self.frames), default=0.0)


async def collect(generation: llm.GenerationCreatedEvent) -> Heard:
    heard = Heard()

    async def message(msg: llm.MessageGeneration) -> None:
        async def text() -> None:
            async for delta in msg.text_stream:
                heard.text += delta

        async def frames() -> None:
            async for frame in msg.audio_stream:
                heard.frames.append(frame)

        await asyncio.gather(text(), frames())

    async def messages() -> None:
        await asyncio.gather(*[message(m) async for m in generation.message_stream])

    async def calls() -> None:
        heard.calls.extend([c async for c in generation.function_stream])

    await asyncio.gather(messages(), calls())
    return heard


async def drain(stream: AsyncIterable[rtc.AudioFrame]) -> list[rtc.AudioFrame]:
    return [frame async for frame in stream]


@pytest.fixture
async def model(openai_double: OpenAIDouble) -> AsyncIterator[openai.realtime.RealtimeModel]:
    realtime = openai.realtime.RealtimeModel(
        model="gpt-realtime", voice="marin", api_key="EMPTY", base_url=openai_double.base_url
    )
    yield realtime
    await realtime.aclose()


async def test_a_greeting_comes_back_as_speech_and_its_transcript(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.script(GREETING)
    session = model.session()
    try:
        await session.update_instructions("You are the receptionist of Northside Clinic.")
        generation = await asyncio.wait_for(
            session.generate_reply(instructions=f"Say exactly: {GREETING}"), 10
        )
        heard = await asyncio.wait_for(collect(generation), 20)
    finally:
        await session.aclose()

    assert generation.user_initiated  # client_event_id came back in response.created
    assert heard.text == GREETING
    assert heard.audio_ms > 1000 and heard.loudest > 1000  # speech, not silence
    assert {f.sample_rate for f in heard.frames} == {24_000}
    record = openai_double.last()
    assert record.model == "gpt-realtime" and record.authorization == "Bearer EMPTY"
    assert record.voice == "marin"
    assert record.instructions == "You are the receptionist of Northside Clinic."
    [response] = record.responses
    assert response.status == "completed" and response.trigger == "response.create"
    assert GREETING in str(response.instructions)
    openai_double.assert_consumed()


def say_to(session: llm.RealtimeSession[Any], text: str) -> None:
    """The human speaks `text`, then is quiet long enough for the server VAD to end the turn."""
    for frame in audio.frames(audio.silence(200) + audio.speech(text) + audio.silence(800)):
        session.push_audio(frame)


@llm.function_tool
async def book_appointment(start: str) -> str:
    """Book a slot at `start` (HH:MM)."""
    return f"booked {start}"


async def test_a_spoken_turn_is_detected_transcribed_and_answered_with_a_tool_call(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.hear("Book me at ten please")
    openai_double.script(
        Turn(calls=[ToolCall("book_appointment", {"start": "10:00"})]),
        "You're booked for ten.",
    )
    session = model.session()
    events: dict[str, list[Any]] = {}
    for name in ("input_speech_started", "input_speech_stopped", "generation_created"):
        session.on(name, lambda ev, name=name: events.setdefault(name, []).append(ev))
    transcripts: list[llm.InputTranscriptionCompleted] = []
    session.on("input_audio_transcription_completed", transcripts.append)
    try:
        await session.update_tools([book_appointment])
        say_to(session, "Book me at ten please")
        created = await openai_double.wait_for(lambda: events.get("generation_created"))
        tool_turn = await asyncio.wait_for(collect(created[0]), 10)

        [call] = tool_turn.calls
        assert (call.name, json.loads(call.arguments)) == ("book_appointment", {"start": "10:00"})
        # The tool's output goes back as a conversation item, then the model answers it.
        chat = session.chat_ctx.copy()
        chat.items.append(
            llm.FunctionCallOutput(
                call_id=call.call_id, name=call.name, output="booked 10:00", is_error=False
            )
        )
        await session.update_chat_ctx(chat)
        answer = await asyncio.wait_for(collect(await session.generate_reply()), 10)
    finally:
        await session.aclose()

    assert len(events["input_speech_started"]) == len(events["input_speech_stopped"]) == 1
    assert [t.transcript for t in transcripts if t.is_final] == ["Book me at ten please"]
    assert answer.text == "You're booked for ten." and answer.loudest > 1000
    record = openai_double.last()
    assert record.tool_names == ["book_appointment"]
    assert [o["output"] for o in record.function_outputs] == ["booked 10:00"]
    [user_turn] = record.user_turns
    assert user_turn["transcript"] == "Book me at ten please"
    assert [r.trigger for r in record.responses] == ["turn_detected", "response.create"]
    assert record.responses[0].tool_calls[0]["name"] == "book_appointment"
    openai_double.assert_consumed()


LONG = (
    "Our clinic is open from eight in the morning until six in the evening on weekdays, "
    "and from nine until noon on Saturdays, except on public holidays."
)


async def test_the_human_speaking_over_the_agent_cancels_the_response_and_truncates_it(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.audio_pace = 1.0  # stream audio in real time, so there is a response to cut
    openai_double.hear("Wait, stop")
    openai_double.script(LONG, "Sure, what would you like to know?")
    session = model.session()
    created: list[llm.GenerationCreatedEvent] = []
    session.on("generation_created", created.append)
    try:
        speaking = await asyncio.wait_for(session.generate_reply(), 10)
        message = await asyncio.wait_for(anext(aiter(speaking.message_stream)), 10)
        frames = aiter(message.audio_stream)
        first = [await asyncio.wait_for(anext(frames), 10) for _ in range(3)]
        say_to(session, "Wait, stop")
        # The cut response ends (its streams close); the agent keeps what was played.
        rest = await asyncio.wait_for(drain(message.audio_stream), 10)
        session.truncate(message_id=message.message_id, modalities=["audio"], audio_end_ms=300)
        await openai_double.wait_for(lambda: openai_double.last().truncations, what="truncate")
        await openai_double.wait_for(lambda: len(created) > 1, what="the next turn")
        answer = await asyncio.wait_for(collect(created[-1]), 10)
    finally:
        await session.aclose()

    record = openai_double.last()
    cut, answered = record.responses
    assert (cut.status, cut.status_reason) == ("cancelled", "turn_detected")
    assert audio.duration_ms(b"".join(bytes(f.data) for f in first + rest)) < audio.duration_ms(
        audio.speech(LONG, "marin")
    )
    [truncation] = record.truncations
    assert truncation["audio_end_ms"] == 300 and LONG.startswith(truncation["kept"])
    assert len(truncation["kept"]) < len(LONG)
    assert (
        answered.trigger == "turn_detected" and answer.text == "Sure, what would you like to know?"
    )
    openai_double.assert_consumed()


async def test_interrupting_cancels_the_response_in_progress(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.audio_pace = 1.0
    openai_double.script(LONG)
    session = model.session()
    try:
        speaking = await asyncio.wait_for(session.generate_reply(), 10)
        message = await asyncio.wait_for(anext(aiter(speaking.message_stream)), 10)
        await asyncio.wait_for(anext(aiter(message.audio_stream)), 10)
        session.interrupt()
        await asyncio.wait_for(collect(speaking), 10)  # ends instead of playing to the end
    finally:
        await session.aclose()
    [response] = openai_double.last().responses
    assert (response.status, response.status_reason) == ("cancelled", "client_cancelled")
    assert response.transcript != LONG


async def test_an_error_event_fails_the_reply_it_answers_at_once(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.script(Turn(error=ApiError("rate_limit_exceeded", "Slow down.", "requests")))
    session = model.session()
    errors: list[llm.RealtimeModelError] = []
    session.on("error", errors.append)
    try:
        # Well inside generate_reply's own 10 s timeout: the error names the request it answers.
        with pytest.raises(llm.RealtimeError, match="Slow down"):
            await asyncio.wait_for(session.generate_reply(), 5)
    finally:
        await session.aclose()
    assert [e.recoverable for e in errors] == [True]
    assert openai_double.last().errors_sent[0]["code"] == "rate_limit_exceeded"


async def test_malformed_tool_arguments_reach_the_client_verbatim(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.script(Turn(calls=[ToolCall("book_appointment", '{"start": "10:00"')]))
    session = model.session()
    try:
        await session.update_tools([book_appointment])
        heard = await asyncio.wait_for(collect(await session.generate_reply()), 10)
    finally:
        await session.aclose()
    assert [(c.name, c.arguments) for c in heard.calls] == [
        ("book_appointment", '{"start": "10:00"')
    ]


async def test_a_connection_dropped_mid_response_is_reopened_with_the_session_replayed(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.script(Turn(say=LONG, drop_after=4), "Sorry, where was I?")
    session = model.session()
    reconnected: list[object] = []
    session.on("session_reconnected", reconnected.append)
    try:
        await session.update_instructions("You are the receptionist.")
        cut = await asyncio.wait_for(collect(await session.generate_reply()), 10)
        await openai_double.wait_for(lambda: reconnected, what="the client reconnecting")
        answer = await asyncio.wait_for(collect(await session.generate_reply()), 10)
    finally:
        await session.aclose()
    first, second = openai_double.conversations()
    assert first.dropped and first.closed
    assert len(cut.frames) < 4 and cut.text != LONG  # the cut response ended, short
    assert second.instructions == "You are the receptionist."  # replayed on the new socket
    assert answer.text == "Sorry, where was I?"


async def test_a_slow_answer_still_arrives(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.script(Turn(say="Let me check.", delay_s=1.0))
    session = model.session()
    try:
        heard = await asyncio.wait_for(collect(await session.generate_reply()), 10)
    finally:
        await session.aclose()
    assert heard.text == "Let me check." and heard.frames


async def test_a_scripted_first_audio_delay_is_the_models_reported_time_to_first_audio(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.script(Turn(say="Let me check.", first_audio_delay_s=0.4))
    session = model.session()
    reported: list[RealtimeModelMetrics] = []
    session.on("metrics_collected", reported.append)
    try:
        generation = await asyncio.wait_for(session.generate_reply(), 10)
        heard = await asyncio.wait_for(collect(generation), 10)
        await asyncio.wait_for(_until(lambda: any(m.request_id for m in reported)), 10)
    finally:
        await session.aclose()
    assert heard.text == "Let me check." and heard.frames
    # (The connection's own metrics come first, with no response id.)
    [metrics] = [m for m in reported if m.request_id]
    # The plugin's ttft: response.created to the first audio delta, at least the delay.
    assert metrics.ttft >= 0.4


async def _until(done: Callable[[], bool]) -> None:
    while not done():  # noqa: ASYNC110 (the plugin emits its metrics as an event, after the streams)
        await asyncio.sleep(0.01)


async def test_a_refused_key_never_opens_a_session(openai_double: OpenAIDouble) -> None:
    openai_double.refuse()
    realtime = openai.realtime.RealtimeModel(
        api_key="sk-wrong",
        base_url=openai_double.base_url,
        conn_options=APIConnectOptions(max_retry=0, timeout=5),
    )
    session = realtime.session()
    errors: list[llm.RealtimeModelError] = []
    session.on("error", errors.append)
    with pytest.raises(llm.RealtimeError):
        await asyncio.wait_for(session.generate_reply(), 5)
    # The session's task ended on the refusal; closing reports it instead of hanging.
    with pytest.raises(APIConnectionError, match="401"):
        await session.aclose()
    await realtime.aclose()
    assert errors and not errors[-1].recoverable
    assert openai_double.realtime == []  # refused at the handshake


async def test_a_text_only_session_gets_text_deltas_and_no_audio(
    openai_double: OpenAIDouble,
) -> None:
    openai_double.script("Text only, as asked.")
    realtime = openai.realtime.RealtimeModel(
        modalities=["text"], api_key="EMPTY", base_url=openai_double.base_url
    )
    session = realtime.session()
    try:
        heard = await asyncio.wait_for(collect(await session.generate_reply()), 10)
    finally:
        await session.aclose()
        await realtime.aclose()
    assert heard.text == "Text only, as asked." and heard.frames == []
    record = openai_double.last()
    assert record.session["output_modalities"] == ["text"]
    assert record.responses[0].audio_ms == 0


async def test_dropping_every_connection_makes_the_client_reconnect(
    openai_double: OpenAIDouble, model: openai.realtime.RealtimeModel
) -> None:
    openai_double.script("Before.", "After.")
    session = model.session()
    reconnected: list[object] = []
    session.on("session_reconnected", reconnected.append)
    try:
        before = await asyncio.wait_for(collect(await session.generate_reply()), 10)
        await openai_double.drop_connections()
        await openai_double.wait_for(lambda: reconnected, what="the client reconnecting")
        after = await asyncio.wait_for(collect(await session.generate_reply()), 10)
    finally:
        await session.aclose()
    assert (before.text, after.text) == ("Before.", "After.")
    assert [r.dropped for r in openai_double.conversations()] == [True, False]
