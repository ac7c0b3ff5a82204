"""The REST half: chat completions (streamed, with tool calls), audio transcriptions and audio
speech — what `openai.LLM`, `openai.STT` (file mode) and `openai.TTS` call."""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from tests.support.openai import audio
from tests.support.openai.realtime import new_id, split_words, tokens
from tests.support.openai.records import ChatRecord, SpeechRecord, TranscriptionRecord
from tests.support.openai.script import VOICES, ApiError, Asked, Turn

if TYPE_CHECKING:
    from tests.support.openai.double import OpenAIDouble

_SPEECH_TYPES = {"pcm": "audio/pcm", "wav": "audio/wav", "mp3": "audio/mpeg"}
_SPEECH_CHUNK = audio.BYTES_PER_MS * 100


class Dropped(Exception):
    """The scripted fault: the response body is cut off mid-stream."""


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse({"error": error.body()}, status_code=error.status)


def bad_request(message: str, param: str | None = None) -> JSONResponse:
    body = ApiError("invalid_value", message, "invalid_request_error", 400).body()
    body["param"] = param
    return JSONResponse({"error": body}, status_code=400)


async def json_body(request: Request) -> dict[str, Any] | JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return bad_request("We could not parse the JSON body of your request.")
    if not isinstance(body, dict):
        return bad_request("The request body must be a JSON object.")
    return body


def sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


# --- chat completions ---------------------------------------------------------------------------


async def chat_completions(request: Request, double: OpenAIDouble) -> Response:
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    messages, model = body.get("messages"), body.get("model")
    if not isinstance(messages, list) or not messages or not isinstance(model, str):
        return bad_request("'model' and a non-empty 'messages' array are required.", "messages")
    tools = body.get("tools") or []
    stream = bool(body.get("stream"))
    double.chats.append(
        ChatRecord(model, messages, tools, stream, request.headers.get("authorization"), body)
    )
    outputs = [str(m.get("content")) for m in messages if m.get("role") == "tool"]
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    turn = double.next_turn(
        Asked(
            via="chat",
            model=model,
            instructions="\n".join(
                str(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
            ),
            last_user_text=_text(users[-1]) if users else None,
            last_tool_output=outputs[-1] if outputs else None,
        )
    )
    if turn.delay_s:
        await asyncio.sleep(turn.delay_s)
    if turn.error is not None:
        return error_response(turn.error)
    completion_id, created = new_id("chatcmpl"), int(time.time())
    calls = [
        {"id": new_id("call"), "name": c.name, "arguments": c.wire_arguments} for c in turn.calls
    ]
    usage: dict[str, Any] = {
        "prompt_tokens": tokens(json.dumps(messages)) + tokens(json.dumps(tools)),
        "completion_tokens": tokens(turn.say) + sum(tokens(c["arguments"]) for c in calls),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    finish = "tool_calls" if calls else "stop"
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": turn.say or None}
        if calls:
            message["tool_calls"] = [_wire_call(c) for c in calls]
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
        )
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    async def events() -> AsyncIterator[bytes]:
        budget = turn.drop_after if turn.drop_after is not None else -1
        pieces: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        pieces += [{"content": word} for word in split_words(turn.say)]
        for index, call in enumerate(calls):
            head = {"index": index, "id": call["id"], "type": "function"}
            pieces.append({"tool_calls": [{**head, "function": {"name": call["name"]}}]})
            arguments = call["arguments"]
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                pieces.append({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        for delta in pieces:
            if budget == 0:
                # Ending the body without its terminating chunk: the client sees a cut stream.
                raise Dropped
            budget -= 1
            yield sse(chunk(delta))
        yield sse(chunk({}, finish))
        if include_usage:
            yield sse({**chunk({}), "choices": [], "usage": usage})
        yield sse("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream")


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def _wire_call(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call["id"],
        "type": "function",
        "function": {"name": call["name"], "arguments": call["arguments"]},
    }


# --- audio --------------------------------------------------------------------------------------


def multipart_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """multipart/form-data fields by name (stdlib parser: python-multipart is not a dependency)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


async def transcriptions(request: Request, double: OpenAIDouble) -> Response:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return bad_request("Expected multipart/form-data.")
    fields = multipart_fields(content_type, await request.body())
    if "file" not in fields or "model" not in fields:
        return bad_request("'file' and 'model' are required.", "file")
    try:
        pcm = audio.pcm_of_wav(fields["file"])
    except Exception:
        return bad_request("The double transcribes WAV files only.", "file")
    language = fields["language"].decode() if "language" in fields else None
    # Silence transcribes to nothing, as it does at OpenAI; speech to the next scripted line.
    heard = double.next_transcript() if audio.has_speech(pcm, double.vad_threshold) else ""
    double.transcriptions.append(
        TranscriptionRecord(
            fields["model"].decode(),
            language,
            audio.duration_ms(pcm),
            heard,
            request.headers.get("authorization"),
        )
    )
    response_format = fields.get("response_format", b"json").decode()
    if response_format == "text":
        return PlainTextResponse(heard)
    seconds = round(audio.duration_ms(pcm) / 1000, 3)
    if response_format == "verbose_json":
        return JSONResponse(
            {
                "task": "transcribe",
                "language": language or "english",
                "duration": seconds,
                "text": heard,
                "segments": [],
            }
        )
    return JSONResponse({"text": heard, "usage": {"type": "duration", "seconds": seconds}})


async def speech(request: Request, double: OpenAIDouble) -> Response:
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    text, model, voice = body.get("input"), body.get("model"), body.get("voice")
    if not isinstance(text, str) or not text or not isinstance(model, str):
        return bad_request("'model' and a non-empty 'input' are required.", "input")
    if voice not in VOICES:
        return bad_request(f"Invalid value: '{voice}'.", "voice")
    response_format = str(body.get("response_format") or "mp3")
    if response_format not in _SPEECH_TYPES:
        return bad_request(f"The double encodes {', '.join(_SPEECH_TYPES)} only.", "format")
    stream_format = body.get("stream_format")
    double.speeches.append(
        SpeechRecord(
            model,
            text,
            voice,
            response_format,
            stream_format,
            body.get("instructions"),
            request.headers.get("authorization"),
        )
    )
    turn: Turn = double.speech_fault or Turn()
    if turn.delay_s:
        await asyncio.sleep(turn.delay_s)
    if turn.error is not None:
        return error_response(turn.error)
    pcm = await asyncio.to_thread(audio.speech, text, voice)
    encoded = {"pcm": lambda: pcm, "wav": lambda: audio.wav(pcm), "mp3": lambda: audio.mp3(pcm)}
    data = await asyncio.to_thread(encoded[response_format])
    chunks = [data[i : i + _SPEECH_CHUNK] for i in range(0, len(data), _SPEECH_CHUNK)]

    async def body_chunks() -> AsyncIterator[bytes]:
        budget = turn.drop_after if turn.drop_after is not None else -1
        for piece in chunks:
            if budget == 0:
                raise Dropped
            budget -= 1
            if stream_format == "sse":
                delta = base64.b64encode(piece).decode()
                yield sse({"type": "speech.audio.delta", "audio": delta})
            else:
                yield piece
        if stream_format == "sse":
            usage: dict[str, int] = {"input_tokens": tokens(text), "output_tokens": len(chunks)}
            usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
            yield sse({"type": "speech.audio.done", "usage": usage})

    media = "text/event-stream" if stream_format == "sse" else _SPEECH_TYPES[response_format]
    return StreamingResponse(body_chunks(), media_type=media)
