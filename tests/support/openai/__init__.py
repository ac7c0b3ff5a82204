"""A wire-faithful OpenAI double: what `livekit-plugins-openai` talks to in tests and benches.

    with OpenAIDouble() as double:
        double.script(Turn(say="Hello, thanks for calling."), Turn(calls=[ToolCall("book", {...})]))
        double.hear("Book me at ten please")
        settings = make_settings(**double.settings())   # worker processes: double.env()

Emulated, at `{base_url}` = `http://127.0.0.1:<port>/v1` (and without the `/v1`):

- **Realtime** (`GET …/realtime?model=`, websocket, GA event names): `session.created`, then
  `session.update` (instructions, tools, voice, turn detection, transcription — merged as OpenAI
  merges them, answered with `session.updated`; an unknown voice, a non-24 kHz format, or a voice
  change after audio was spoken are refused with an `error` event); `input_audio_buffer.append`
  of PCM16 24 kHz with server-side VAD by energy (`speech_started` / `speech_stopped` /
  `committed`, measured in audio time), `commit` (≥ 100 ms) and `clear`; an input transcription
  per user turn when transcription is configured (the next line of `hear()`; silence
  transcribes to ""); `conversation.item.create|delete|truncate` answered with
  `added|deleted|truncated`; `response.create` → the next `Turn`: `response.created` (echoing
  `metadata`, so `client_event_id` comes back), a message item with transcript deltas and real
  audio deltas (espeak-ng speech, 100 ms a delta), `function_call` items with their arguments,
  `response.done` with usage. With server VAD the end of a user turn starts a response by itself,
  and speech during a response cancels it (`cancelled` / `turn_detected`); `response.cancel`
  cancels it (`client_cancelled`). `?intent=transcription` is the STT's transcription session:
  the same VAD and transcription, no responses.
- **REST**: `POST …/chat/completions` (streamed chunks with tool calls and a usage chunk, or one
  completion), `POST …/audio/transcriptions` (WAV in; json, text or verbose_json out),
  `POST …/audio/speech` (pcm, wav or mp3; raw bytes or `stream_format=sse` events).
- **Faults**, per turn: `Turn(error=ApiError(...))` (an `error` event / an HTTP error with
  OpenAI's body), `Turn(calls=[ToolCall("x", "{not json")])` (malformed arguments),
  `Turn(drop_after=n)` (the socket closed with 1011, or the body cut, after n deltas),
  `Turn(delay_s=…)` (answering slowly), `Turn(first_audio_delay_s=…)` (a realtime response
  created at once whose first audio comes that much later); `refuse()` every request or
  handshake (401 by default); `drop_connections()`; `speech_fault` for the TTS.
- **Records** for assertions: `realtime` (per connection: the session as configured, every client
  event with audio summarised, items created, truncations, cancels, user turns, responses),
  `chats`, `transcriptions`, `speeches`; `assert_consumed()` fails on unused or missing script.

Where it departs from OpenAI: responses come from the script, not a model (`responder` can
compute them; past the script the double says `UNSCRIPTED` and counts an overrun); the VAD is
energy only (semantic VAD behaves like server VAD, 500 ms of silence ends a turn) and the
transcript is the scripted line whatever was said; audio is espeak-ng's voice (tones when
espeak-ng is missing: `audio.SYNTHESIS` says which), sent as fast as the socket takes it unless
`audio_pace` is set; token counts are estimates (4 characters a text token, 10 audio tokens a
second in, 20 out); `conversation.item.done`, rate-limit events, `response.function_call_arguments`
streaming in several pieces, images, MCP tools, the Responses API and Azure's legacy event names
are not emulated; out-of-band responses (`conversation: "none"`) still join the conversation;
speech formats opus/aac/flac are refused with 400.
"""

from tests.support.openai.audio import SYNTHESIS
from tests.support.openai.double import UNSCRIPTED, OpenAIDouble
from tests.support.openai.records import ChatRecord, RealtimeRecord, ResponseRecord
from tests.support.openai.script import ApiError, Asked, ToolCall, Turn

__all__ = [
    "SYNTHESIS",
    "UNSCRIPTED",
    "ApiError",
    "Asked",
    "ChatRecord",
    "OpenAIDouble",
    "RealtimeRecord",
    "ResponseRecord",
    "ToolCall",
    "Turn",
]
