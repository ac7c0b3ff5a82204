"""One realtime websocket connection: a conversation (`?model=`) or a transcription session
(`?intent=transcription`, the pipeline's STT), speaking the GA event names."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import math
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.support.openai import audio
from tests.support.openai.records import RealtimeRecord, ResponseRecord, merge
from tests.support.openai.script import VOICES, ApiError, Asked, Turn

if TYPE_CHECKING:
    from tests.support.openai.double import OpenAIDouble

_CHUNK_MS = 100  # audio per response.output_audio.delta, as OpenAI sends
_AUDIO_FORMAT = {"type": "audio/pcm", "rate": audio.SAMPLE_RATE}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def split_words(text: str) -> list[str]:
    """Deltas a word at a time, spaces kept, so they join back into `text`."""
    if not text:
        return []
    words = [w + " " for w in text.split(" ")]
    words[-1] = words[-1].rstrip(" ")
    return words


def default_session(model: str | None, transcription: bool) -> dict[str, Any]:
    turn_detection = {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
    }
    if transcription:
        return {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": dict(_AUDIO_FORMAT),
                    "transcription": None,
                    "turn_detection": turn_detection,
                    "noise_reduction": None,
                }
            },
        }
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "audio": {
            "input": {
                "format": dict(_AUDIO_FORMAT),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": turn_detection,
            },
            "output": {"format": dict(_AUDIO_FORMAT), "voice": "alloy", "speed": 1.0},
        },
    }


def invalid(message: str, code: str = "invalid_value") -> ApiError:
    """OpenAI's answer to a client event it refuses (the connection stays open)."""
    return ApiError(code, message, "invalid_request_error", 400)


class Dropped(Exception):
    """The scripted fault: the connection is cut mid-response."""


@dataclass
class _Active:
    record: ResponseRecord
    task: asyncio.Task[None] | None = None
    cancel_reason: str | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    items: list[dict[str, Any]] = field(default_factory=list)


class RealtimeConnection:
    def __init__(self, websocket: WebSocket, double: OpenAIDouble, record: RealtimeRecord) -> None:
        self.ws = websocket
        self.double = double
        self.record = record
        self.transcription_only = record.intent == "transcription"
        self.session = default_session(record.model, self.transcription_only)
        record.session = copy.deepcopy(self.session)
        self.vad = self._new_vad()
        self.buffer = bytearray()  # input audio not yet committed
        self.buffer_at_ms = 0  # where the buffer starts, in the VAD's audio time
        self.conversation: list[dict[str, Any]] = []  # items, in order
        self.active: _Active | None = None
        self.user_item: str | None = None  # the turn the VAD is hearing
        self.audio_spoken = False
        self._send_lock = asyncio.Lock()
        self._responding = asyncio.Lock()

    # --- the connection ----------------------------------------------------------------------

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.session})
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    await self.error(
                        invalid("binary frames are not accepted", "invalid_request_error")
                    )
                    continue
                try:
                    await self.handle(text)
                except (WebSocketDisconnect, Dropped, RuntimeError):
                    raise
                except Exception as exc:  # a bug in the double: visible to the test, not fatal
                    await self.error(ApiError("double_failure", f"the double failed: {exc!r}"))
        except (WebSocketDisconnect, Dropped, RuntimeError):
            pass
        finally:
            if self.active is not None and self.active.task is not None:
                self.active.task.cancel()
            self.record.closed = True

    async def send(self, event: dict[str, Any]) -> None:
        event = {"event_id": new_id("event"), **event}
        async with self._send_lock:
            if self.record.dropped:
                raise Dropped
            await self.ws.send_text(json.dumps(event))

    async def error(self, error: ApiError, event_id: str | None = None) -> None:
        body = error.body(event_id)
        self.record.errors_sent.append(body)
        await self.send({"type": "error", "error": body})

    async def drop(self) -> None:
        """Cut the connection without finishing the response (close code 1011, as OpenAI does
        on an internal error)."""
        async with self._send_lock:
            self.record.dropped = True
            await self.ws.close(code=1011)
        raise Dropped

    # --- client events -----------------------------------------------------------------------

    async def handle(self, text: str) -> None:
        try:
            event = json.loads(text)
        except json.JSONDecodeError:
            await self.error(invalid("The message is not valid JSON.", "invalid_json"))
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self.error(invalid("Missing event type.", "invalid_request_error"))
            return
        kind, event_id = event["type"], event.get("event_id")
        if kind == "input_audio_buffer.append":
            self.record.events.append({"type": kind, "bytes": len(str(event.get("audio", "")))})
            await self.append(event, event_id)
            return
        self.record.events.append(event)
        handler = {
            "session.update": self.session_update,
            "input_audio_buffer.commit": self.commit,
            "input_audio_buffer.clear": self.clear,
            "conversation.item.create": self.item_create,
            "conversation.item.delete": self.item_delete,
            "conversation.item.truncate": self.item_truncate,
            "response.create": self.response_create,
            "response.cancel": self.response_cancel,
        }.get(kind)
        if handler is None:
            await self.error(invalid(f"Invalid value: '{kind}'.", "invalid_value"), event_id)
            return
        await handler(event, event_id)

    async def session_update(self, event: dict[str, Any], event_id: str | None) -> None:
        update = event.get("session")
        if not isinstance(update, dict):
            await self.error(
                invalid("Missing required parameter: 'session'.", "missing_required_parameter"),
                event_id,
            )
            return
        voice = update.get("audio", {}).get("output", {}).get("voice")
        if voice is not None and voice not in VOICES:
            await self.error(
                invalid(
                    f"Invalid value: '{voice}'. Supported values are: {', '.join(sorted(VOICES))}.",
                    "invalid_value",
                ),
                event_id,
            )
            return
        if voice is not None and voice != self.record.voice and self.audio_spoken:
            await self.error(
                invalid(
                    "Cannot update a conversation's voice if assistant audio is present.",
                    "cannot_update_voice",
                ),
                event_id,
            )
            return
        formats = [
            update.get("audio", {}).get(side, {}).get("format") for side in ("input", "output")
        ]
        for fmt in formats:
            if fmt is not None and (
                fmt.get("type") != "audio/pcm" or fmt.get("rate") not in (None, audio.SAMPLE_RATE)
            ):
                await self.error(
                    invalid("The double speaks audio/pcm at 24000 Hz only.", "invalid_value"),
                    event_id,
                )
                return
        detection = self._turn_detection()
        merge(self.session, update)
        self.record.session = copy.deepcopy(self.session)
        if self._turn_detection() != detection:  # a turn being heard survives other updates
            self.vad = self._new_vad(keep_position=self.vad.position_ms)
        await self.send({"type": "session.updated", "session": self.session})

    def _turn_detection(self) -> dict[str, Any] | None:
        value = self.session.get("audio", {}).get("input", {}).get("turn_detection")
        return value if isinstance(value, dict) else None

    def _new_vad(self, keep_position: int = 0) -> audio.EnergyVad:
        detection = self._turn_detection() or {}
        vad = audio.EnergyVad(
            threshold=self.double.vad_threshold,
            silence_ms=int(detection.get("silence_duration_ms") or 500),
            prefix_padding_ms=int(detection.get("prefix_padding_ms") or 300),
        )
        vad.position_ms = keep_position
        return vad

    async def append(self, event: dict[str, Any], event_id: str | None) -> None:
        try:
            pcm = base64.b64decode(str(event.get("audio", "")), validate=True)
        except (binascii.Error, ValueError):
            await self.error(
                invalid("Invalid 'audio'. Expected base64-encoded audio.", "invalid_value"),
                event_id,
            )
            return
        self.buffer.extend(pcm)
        self.record.audio_in_ms += audio.duration_ms(pcm)
        detection = self._turn_detection()
        if detection is None:
            return
        for vad_event in self.vad.push(pcm):
            if vad_event.kind == "started":
                await self.speech_started(vad_event.at_ms, detection)
            else:
                await self.speech_stopped(vad_event.at_ms, detection)

    async def speech_started(self, at_ms: int, detection: dict[str, Any]) -> None:
        self.user_item = new_id("item")
        # The turn's audio starts here (with its padding), as OpenAI commits only the segment.
        skip = max(0, at_ms - self.buffer_at_ms) * audio.BYTES_PER_MS
        del self.buffer[:skip]
        self.buffer_at_ms = max(at_ms, self.buffer_at_ms)
        await self.send(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": at_ms,
                "item_id": self.user_item,
            }
        )
        if self.active is not None and detection.get("interrupt_response", True):
            await self.cancel_active("turn_detected")

    async def speech_stopped(self, at_ms: int, detection: dict[str, Any]) -> None:
        item_id = self.user_item or new_id("item")
        self.user_item = None
        await self.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": at_ms, "item_id": item_id}
        )
        heard = await self.committed(item_id)
        self.record.user_turns.append({"item_id": item_id, "end_ms": at_ms, "transcript": heard})
        if not self.transcription_only and detection.get("create_response", True):
            self.start_response(None, {}, trigger="turn_detected")

    async def committed(self, item_id: str) -> str | None:
        """The buffer becomes a user item; its transcription follows when configured."""
        pcm, self.buffer, self.buffer_at_ms = bytes(self.buffer), bytearray(), self.vad.position_ms
        previous = self.conversation[-1]["id"] if self.conversation else None
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        if not self.transcription_only:
            await self.add_item(item, previous)
        transcription = self.session.get("audio", {}).get("input", {}).get("transcription")
        if not transcription:
            return None
        heard = (
            self.double.next_transcript()
            if audio.has_speech(pcm, self.double.vad_threshold)
            else ""
        )
        for word in heard.split(" ") if heard else []:
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": word + " ",
                }
            )
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": heard,
                "usage": {
                    "type": "tokens",
                    "input_tokens": math.ceil(audio.duration_ms(pcm) / 100),
                    "output_tokens": tokens(heard),
                    "total_tokens": math.ceil(audio.duration_ms(pcm) / 100) + tokens(heard),
                    "input_token_details": {
                        "audio_tokens": math.ceil(audio.duration_ms(pcm) / 100),
                        "text_tokens": 0,
                    },
                },
            }
        )
        item["content"] = [{"type": "input_audio", "transcript": heard}]
        return heard

    async def commit(self, event: dict[str, Any], event_id: str | None) -> None:
        if audio.duration_ms(bytes(self.buffer)) < 100:
            await self.error(
                invalid(
                    "Error committing input audio buffer: buffer too small. "
                    "Expected at least 100ms of audio.",
                    "input_audio_buffer_commit_empty",
                ),
                event_id,
            )
            return
        self.vad.clear()
        item_id = self.user_item or new_id("item")
        self.user_item = None
        heard = await self.committed(item_id)
        self.record.user_turns.append({"item_id": item_id, "end_ms": None, "transcript": heard})

    async def clear(self, event: dict[str, Any], event_id: str | None) -> None:
        self.buffer, self.buffer_at_ms = bytearray(), self.vad.position_ms
        self.vad.clear()
        self.user_item = None
        await self.send({"type": "input_audio_buffer.cleared"})

    async def add_item(self, item: dict[str, Any], previous: str | None) -> None:
        index = len(self.conversation)
        if previous is not None:
            ids = [i["id"] for i in self.conversation]
            index = ids.index(previous) + 1 if previous in ids else index
        self.conversation.insert(index, item)
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )

    async def item_create(self, event: dict[str, Any], event_id: str | None) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in (
            "message",
            "function_call",
            "function_call_output",
        ):
            await self.error(invalid("Invalid 'item'.", "invalid_value"), event_id)
            return
        ids = [i["id"] for i in self.conversation]
        item = {"object": "realtime.item", "status": "completed", **item}
        item.setdefault("id", new_id("item"))
        if item["id"] in ids:
            await self.error(
                invalid(
                    f"Item with item_id '{item['id']}' already exists.",
                    "item_create_duplicate_item_id",
                ),
                event_id,
            )
            return
        calls = {i.get("call_id") for i in self.conversation if i.get("type") == "function_call"}
        if item["type"] == "function_call_output" and item.get("call_id") not in calls:
            await self.error(
                invalid(f"Tool call ID '{item.get('call_id')}' not found in conversation."),
                event_id,
            )
            return
        previous = event.get("previous_item_id")
        if previous == "root":
            previous = None
        elif previous is None:
            previous = ids[-1] if ids else None
        elif previous not in ids:
            await self.error(
                invalid(
                    f"Previous item with id '{previous}' not found.",
                    "item_create_invalid_previous_item_id",
                ),
                event_id,
            )
            return
        self.record.items.append(item)
        await self.add_item(item, previous)

    async def item_delete(self, event: dict[str, Any], event_id: str | None) -> None:
        item_id = event.get("item_id")
        ids = [i["id"] for i in self.conversation]
        if item_id not in ids:
            await self.error(
                invalid(f"Item with item_id '{item_id}' not found.", "item_delete_invalid_item_id"),
                event_id,
            )
            return
        del self.conversation[ids.index(item_id)]
        self.record.deleted.append(str(item_id))
        await self.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def item_truncate(self, event: dict[str, Any], event_id: str | None) -> None:
        item_id, end_ms = event.get("item_id"), event.get("audio_end_ms")
        item = next((i for i in self.conversation if i["id"] == item_id), None)
        if item is None or item.get("role") != "assistant" or not isinstance(end_ms, int):
            await self.error(
                invalid("Invalid 'item_id' or 'audio_end_ms' to truncate.", "invalid_value"),
                event_id,
            )
            return
        part = (item.get("content") or [{}])[0]
        total_ms = float(item.get("_audio_ms", 0.0))
        if end_ms > total_ms:
            await self.error(
                invalid(
                    f"Audio content of {int(total_ms)}ms is already shorter than {end_ms}ms",
                    "invalid_value",
                ),
                event_id,
            )
            return
        transcript = str(part.get("transcript") or "")
        kept = transcript[: round(len(transcript) * end_ms / total_ms)] if total_ms else ""
        part["transcript"] = kept
        self.record.truncations.append({"item_id": item_id, "audio_end_ms": end_ms, "kept": kept})
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": event.get("content_index", 0),
                "audio_end_ms": end_ms,
            }
        )

    async def response_create(self, event: dict[str, Any], event_id: str | None) -> None:
        params = event.get("response") or {}
        self.record.response_requests.append(params)
        if self.transcription_only:
            await self.error(
                invalid("A transcription session has no responses.", "invalid_request_error"),
                event_id,
            )
            return
        if self.active is not None:
            await self.error(
                invalid(
                    "Conversation already has an active response in progress: "
                    f"{self.active.record.id}. Wait until the response is finished before "
                    "creating a new one.",
                    "conversation_already_has_active_response",
                ),
                event_id,
            )
            return
        self.start_response(event_id, params, trigger="response.create")

    async def response_cancel(self, event: dict[str, Any], event_id: str | None) -> None:
        self.record.cancels += 1
        wanted = event.get("response_id")
        if self.active is None or (wanted and wanted != self.active.record.id):
            await self.error(
                invalid(
                    "Cancellation failed: no active response found", "response_cancel_not_active"
                ),
                event_id,
            )
            return
        await self.cancel_active("client_cancelled")

    # --- responses ---------------------------------------------------------------------------

    def start_response(self, event_id: str | None, params: dict[str, Any], *, trigger: str) -> None:
        metadata = params.get("metadata")
        record = ResponseRecord(
            id=new_id("resp"),
            trigger=trigger,
            client_event_id=metadata.get("client_event_id") if isinstance(metadata, dict) else None,
            instructions=params.get("instructions"),
        )
        self.record.responses.append(record)
        active = _Active(record)
        self.active = active
        active.task = asyncio.create_task(self._respond(active, event_id, params))

    def _asked(self, params: dict[str, Any]) -> Asked:
        users = [
            str(part.get("transcript") or part.get("text") or "")
            for item in self.conversation
            if item.get("role") == "user"
            for part in item.get("content", [])
        ]
        outputs = [
            str(i.get("output"))
            for i in self.conversation
            if i.get("type") == "function_call_output"
        ]
        return Asked(
            via="realtime",
            model=str(self.record.model),
            instructions=str(params.get("instructions") or self.session.get("instructions") or ""),
            last_user_text=users[-1] if users else None,
            last_tool_output=outputs[-1] if outputs else None,
        )

    async def _respond(self, active: _Active, event_id: str | None, params: dict[str, Any]) -> None:
        try:
            # One response at a time on the wire: a new one starts after the cancelled one's
            # `response.done`, as at OpenAI (the client tracks a single current generation).
            async with self._responding:
                turn = self.double.next_turn(self._asked(params))
                await self._play(active, turn, event_id, params)
        except Dropped:
            pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the double must show, not hang the client
            await self.error(ApiError(message=f"the double failed: {exc!r}"), event_id)
            raise
        finally:
            if self.active is active:
                self.active = None

    async def _play(
        self, active: _Active, turn: Turn, event_id: str | None, params: dict[str, Any]
    ) -> None:
        record = active.record
        if turn.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(active.cancelled.wait(), turn.delay_s)
        if active.cancel_reason is not None:  # cancelled before it was created
            record.status, record.status_reason = "cancelled", active.cancel_reason
            return
        if turn.error is not None:
            record.status = "failed"
            await self.error(turn.error, event_id)
            return
        modalities = (
            params.get("output_modalities") or self.session.get("output_modalities") or ["audio"]
        )
        spoken = "audio" in modalities
        response = {
            "object": "realtime.response",
            "id": record.id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": "conv_double",
            "output_modalities": modalities,
            "max_output_tokens": "inf",
            "audio": {"output": {"format": dict(_AUDIO_FORMAT), "voice": self.record.voice}},
            "usage": None,
            "metadata": params.get("metadata"),
        }
        await self.send({"type": "response.created", "response": dict(response)})
        if turn.first_audio_delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(active.cancelled.wait(), turn.first_audio_delay_s)
        budget = [turn.drop_after if turn.drop_after is not None else -1]

        async def delta(event: dict[str, Any]) -> None:
            if active.cancel_reason is not None:
                raise _Cancelled
            if budget[0] == 0:
                await self.drop()
            budget[0] -= 1
            await self.send(event)

        try:
            if turn.say:
                await self._message(active, turn.say, spoken, delta)
            for call in turn.calls:
                await self._function_call(active, call, delta)
        except _Cancelled:
            pass
        status = "cancelled" if active.cancel_reason else "completed"
        record.status = status
        record.status_reason = active.cancel_reason
        output_tokens = tokens(record.transcript) + math.ceil(record.audio_ms / 50)
        input_text = tokens(json.dumps(self.conversation)) + tokens(
            str(self.session.get("instructions") or "")
        )
        input_audio = math.ceil(self.record.audio_in_ms / 100)
        response.update(
            status=status,
            status_details={"type": "cancelled", "reason": active.cancel_reason}
            if active.cancel_reason
            else None,
            output=active.items,
            usage={
                "total_tokens": input_text + input_audio + output_tokens,
                "input_tokens": input_text + input_audio,
                "output_tokens": output_tokens,
                "input_token_details": {
                    "text_tokens": input_text,
                    "audio_tokens": input_audio,
                    "image_tokens": 0,
                    "cached_tokens": 0,
                    "cached_tokens_details": {
                        "text_tokens": 0,
                        "audio_tokens": 0,
                        "image_tokens": 0,
                    },
                },
                "output_token_details": {
                    "text_tokens": tokens(record.transcript),
                    "audio_tokens": math.ceil(record.audio_ms / 50),
                },
            },
        )
        if self.active is active:
            self.active = None
        await self.send({"type": "response.done", "response": response})

    async def _output_item_added(self, active: _Active, item: dict[str, Any]) -> None:
        """A new output item: in the response, then in the conversation."""
        active.items.append(item)
        added = {"response_id": active.record.id, "output_index": len(active.items) - 1}
        await self.send({"type": "response.output_item.added", **added, "item": dict(item)})
        await self.add_item(item, self.conversation[-1]["id"] if self.conversation else None)

    async def _message(self, active: _Active, text: str, spoken: bool, delta: Any) -> None:
        record = active.record
        item_id = new_id("item")
        index = len(active.items)
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        where = {
            "response_id": record.id,
            "item_id": item_id,
            "output_index": index,
            "content_index": 0,
        }
        await self._output_item_added(active, item)
        part_type = "audio" if spoken else "text"
        text_key = "transcript" if spoken else "text"
        await self.send(
            {
                "type": "response.content_part.added",
                **where,
                "part": {"type": part_type, text_key: ""},
            }
        )
        # The item's content grows with the deltas: a truncate mid-response sees what was sent.
        content: dict[str, Any] = {"type": f"output_{part_type}", text_key: ""}
        item["content"] = [content]
        words = split_words(text)

        async def say(word: str) -> None:
            kind = "output_audio_transcript" if spoken else "output_text"
            await delta({"type": f"response.{kind}.delta", **where, "delta": word})
            content[text_key] += word
            record.transcript = content[text_key]

        cancelled = False
        try:
            if spoken:
                pcm = await asyncio.to_thread(audio.speech, text, self.record.voice or "alloy")
                step = audio.BYTES_PER_MS * _CHUNK_MS
                chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)] or [b""]
                for n, chunk in enumerate(chunks):
                    # The transcript runs a little ahead of the audio, as OpenAI's does.
                    while words and len(content[text_key]) <= len(text) * (n + 1) / len(chunks):
                        await say(words.pop(0))
                    encoded = base64.b64encode(chunk).decode()
                    await delta({"type": "response.output_audio.delta", **where, "delta": encoded})
                    self.audio_spoken = True
                    record.audio_ms += audio.duration_ms(chunk)
                    item["_audio_ms"] = record.audio_ms
                    if self.double.audio_pace:
                        pace_s = audio.duration_ms(chunk) / 1000 * self.double.audio_pace
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(active.cancelled.wait(), pace_s)
            for word in words:
                await say(word)
        except _Cancelled:
            cancelled = True
        sent = content[text_key]
        item["status"] = "incomplete" if cancelled else "completed"
        if spoken:
            await self.send({"type": "response.output_audio.done", **where})
            await self.send(
                {"type": "response.output_audio_transcript.done", **where, "transcript": sent}
            )
            await self.send(
                {
                    "type": "response.content_part.done",
                    **where,
                    "part": {"type": "audio", "transcript": sent},
                }
            )
        else:
            await self.send({"type": "response.output_text.done", **where, "text": sent})
            await self.send(
                {
                    "type": "response.content_part.done",
                    **where,
                    "part": {"type": "text", "text": sent},
                }
            )
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": record.id,
                "output_index": index,
                "item": _public(item),
            }
        )
        if cancelled:
            raise _Cancelled

    async def _function_call(self, active: _Active, call: Any, delta: Any) -> None:
        record = active.record
        item_id, call_id = new_id("item"), new_id("call")
        index = len(active.items)
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": call.name,
            "arguments": "",
        }
        await self._output_item_added(active, item)
        arguments = call.wire_arguments
        where = {
            "response_id": record.id,
            "item_id": item_id,
            "output_index": index,
            "call_id": call_id,
        }
        await delta({"type": "response.function_call_arguments.delta", **where, "delta": arguments})
        await self.send(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": call.name,
                "arguments": arguments,
            }
        )
        item.update(status="completed", arguments=arguments)
        record.tool_calls.append({"call_id": call_id, "name": call.name, "arguments": arguments})
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": record.id,
                "output_index": index,
                "item": dict(item),
            }
        )

    async def cancel_active(self, reason: str) -> None:
        """Stop the response in progress; its task finishes it with status `cancelled`."""
        active = self.active
        if active is None:
            return
        active.cancel_reason = reason
        self.active = None
        # The task notices at its next delta, or while it waits (the slow fault), and ends the
        # response as `cancelled`; cancelling the task itself could cut a frame half sent.
        active.cancelled.set()


class _Cancelled(Exception):
    pass


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if not key.startswith("_")}
