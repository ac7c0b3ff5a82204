"""The double's REST half and transcription sessions against the real plugin classes: the
pipeline's LLM (chat completions with tools), STT (realtime transcription and file), TTS, and
the summary model."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from livekit.agents import APIConnectionError, APIConnectOptions, APIStatusError, llm, stt, utils
from livekit.plugins import openai

from tests.support.openai import ApiError, OpenAIDouble, ToolCall, Turn, audio

KEY = "EMPTY"


@llm.function_tool
async def book_appointment(start: str) -> str:
    """Book a slot at `start` (HH:MM)."""
    return f"booked {start}"


def chat_ctx(*user: str) -> llm.ChatContext:
    chat = llm.ChatContext()
    chat.add_message(role="system", content="You are the receptionist of Northside Clinic.")
    for line in user:
        chat.add_message(role="user", content=line)
    return chat


async def chunks(model: llm.LLM[Any], chat: llm.ChatContext, **kwargs: Any) -> list[llm.ChatChunk]:
    async with model.chat(chat_ctx=chat, **kwargs) as stream:
        return [chunk async for chunk in stream]


async def test_the_llm_streams_text_and_tool_calls_with_usage(openai_double: OpenAIDouble) -> None:
    openai_double.script(
        Turn(calls=[ToolCall("book_appointment", {"start": "10:00"})]), "You're booked for ten."
    )
    model = openai.LLM(model="gpt-4.1-mini", api_key=KEY, base_url=openai_double.base_url)
    first = await chunks(model, chat_ctx("Book me at ten"), tools=[book_appointment])
    calls = [c for chunk in first if chunk.delta for c in chunk.delta.tool_calls]
    second = await chunks(model, chat_ctx("Thanks"))

    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("book_appointment", {"start": "10:00"})
    ]
    text = "".join(c.delta.content or "" for c in second if c.delta)
    assert text == "You're booked for ten."
    usage = [c.usage for c in second if c.usage]
    assert usage and usage[0].prompt_tokens > 0 and usage[0].completion_tokens > 0
    request = openai_double.chats[0]
    assert request.model == "gpt-4.1-mini" and request.stream
    assert request.tool_names == ["book_appointment"]
    assert "Northside Clinic" in request.instructions
    assert request.authorization == f"Bearer {KEY}"
    openai_double.assert_consumed()


async def test_llm_faults_surface_as_the_plugins_errors(openai_double: OpenAIDouble) -> None:
    model = openai.LLM(model="gpt-4.1-mini", api_key=KEY, base_url=openai_double.base_url)
    once = APIConnectOptions(max_retry=0, timeout=5)
    openai_double.script(Turn(error=ApiError("rate_limit_exceeded", "Slow down.", status=429)))
    with pytest.raises(APIStatusError) as refused:
        await chunks(model, chat_ctx("Hi"), conn_options=once)
    assert refused.value.status_code == 429

    openai_double.script(Turn(say="This answer is cut off half way through.", drop_after=3))
    with pytest.raises(APIConnectionError):
        await chunks(model, chat_ctx("Hi"), conn_options=once)

    openai_double.script(Turn(calls=[ToolCall("book_appointment", "{not json")]))
    got = await chunks(model, chat_ctx("Hi"), tools=[book_appointment], conn_options=once)
    assert [c.arguments for g in got if g.delta for c in g.delta.tool_calls] == ["{not json"]
    openai_double.assert_consumed()


async def test_the_realtime_stt_hears_a_turn_and_transcribes_it(
    openai_double: OpenAIDouble,
) -> None:
    openai_double.hear("Book me at ten please")
    model = openai.STT(
        model="gpt-4o-mini-transcribe",
        language="en",
        use_realtime=True,
        api_key=KEY,
        base_url=openai_double.base_url,
    )
    events: list[stt.SpeechEvent] = []
    # The realtime STT borrows the job's HTTP session; outside a job, open one as a job does.
    async with utils.http_context._new_session_ctx()():
        stream = model.stream()
        for frame in audio.frames(audio.silence(200) + audio.speech("Book me at ten please")):
            stream.push_frame(frame)
        for frame in audio.frames(audio.silence(900)):
            stream.push_frame(frame)

        async def final() -> None:
            async for event in stream:
                events.append(event)
                if event.type is stt.SpeechEventType.FINAL_TRANSCRIPT:
                    return

        await asyncio.wait_for(final(), 10)
        await stream.aclose()
        await model.aclose()

    kinds = [e.type for e in events]
    assert kinds[0] is stt.SpeechEventType.START_OF_SPEECH
    assert stt.SpeechEventType.END_OF_SPEECH in kinds
    assert events[-1].alternatives[0].text == "Book me at ten please"
    session = openai_double.last("transcription")
    assert session.session["type"] == "transcription" and session.model == "gpt-4o-mini-transcribe"
    assert session.session["audio"]["input"]["transcription"]["model"] == "gpt-4o-mini-transcribe"
    openai_double.assert_consumed()


async def test_the_file_stt_transcribes_speech_and_hears_nothing_in_silence(
    openai_double: OpenAIDouble,
) -> None:
    openai_double.hear("Ten o'clock works")
    model = openai.STT(
        model="gpt-4o-mini-transcribe",
        use_realtime=False,
        api_key=KEY,
        base_url=openai_double.base_url,
    )
    spoken = await model.recognize(audio.frames(audio.speech("Ten o'clock works")))
    quiet = await model.recognize(audio.frames(audio.silence(500)))
    assert spoken.alternatives[0].text == "Ten o'clock works"
    assert quiet.alternatives[0].text == ""
    assert [t.model for t in openai_double.transcriptions] == ["gpt-4o-mini-transcribe"] * 2
    openai_double.assert_consumed()


@pytest.mark.parametrize(
    ("tts_model", "response_format"),
    [("gpt-4o-mini-tts", "mp3"), ("gpt-4o-mini-tts", "pcm"), ("tts-1", "wav")],
)
async def test_the_tts_speaks_the_text_in_every_format_and_stream_mode(
    openai_double: OpenAIDouble, tts_model: str, response_format: str
) -> None:
    model = openai.TTS(
        model=tts_model,
        voice="ash",
        api_key=KEY,
        base_url=openai_double.base_url,
        response_format=response_format,
    )
    frames = [ev.frame async for ev in model.synthesize("Your appointment is at ten.")]
    await model.aclose()
    pcm = b"".join(bytes(f.data) for f in frames)
    assert {f.sample_rate for f in frames} == {audio.SAMPLE_RATE}
    assert audio.duration_ms(pcm) > 800 and audio.rms(pcm) > 500  # speech, not silence
    [request] = openai_double.speeches
    assert (request.input, request.voice, request.response_format) == (
        "Your appointment is at ten.",
        "ash",
        response_format,
    )
    # gpt-4o-mini-tts streams server-sent events; tts-1 streams the audio bytes.
    assert request.stream_format == ("audio" if tts_model == "tts-1" else "sse")


async def test_a_responder_answers_past_the_script_from_what_was_asked() -> None:
    with OpenAIDouble(api_key="sk-right") as double:
        double.responder = lambda asked: f"You said: {asked.last_user_text}"
        model = openai.LLM(model="gpt-4.1-mini", api_key="sk-right", base_url=double.base_url)
        got = await chunks(model, chat_ctx("Ten o'clock"))
        wrong = openai.LLM(model="gpt-4.1-mini", api_key="sk-wrong", base_url=double.base_url)
        with pytest.raises(APIStatusError) as refused:
            await chunks(wrong, chat_ctx("Hi"), conn_options=APIConnectOptions(max_retry=0))
    assert "".join(c.delta.content or "" for c in got if c.delta) == "You said: Ten o'clock"
    assert refused.value.status_code == 401 and "Incorrect API key" in str(refused.value)
    assert len(double.chats) == 1 and not double.overruns  # the refused request never ran


async def test_a_tts_fault_surfaces_as_the_plugins_error(openai_double: OpenAIDouble) -> None:
    openai_double.speech_fault = Turn(error=ApiError("server_error", "TTS is down.", status=503))
    model = openai.TTS(api_key=KEY, base_url=openai_double.base_url, response_format="pcm")
    stream = model.synthesize("Hello", conn_options=APIConnectOptions(max_retry=0))
    with pytest.raises(APIStatusError):
        _ = [ev async for ev in stream]
    await model.aclose()
    assert [s.input for s in openai_double.speeches] == ["Hello"]
