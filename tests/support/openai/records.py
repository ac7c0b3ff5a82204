"""What the double received, kept for assertions (appended on the server's thread, read by
tests: lists only grow, so a test reads a consistent prefix)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    """`session.update` semantics: fields present replace, nested objects merge, null clears."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


@dataclass
class ResponseRecord:
    id: str
    trigger: str  # "response.create" or "turn_detected"
    client_event_id: str | None
    instructions: str | None
    status: str = "in_progress"
    transcript: str = ""
    audio_ms: float = 0.0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    status_reason: str | None = None


@dataclass
class RealtimeRecord:
    """One websocket connection: a realtime conversation, or a transcription session (STT)."""

    path: str
    model: str | None
    intent: str | None
    authorization: str | None
    session: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # audio appends summarised
    audio_in_ms: float = 0.0
    items: list[dict[str, Any]] = field(default_factory=list)  # conversation.item.create
    deleted: list[str] = field(default_factory=list)
    truncations: list[dict[str, Any]] = field(default_factory=list)
    cancels: int = 0
    user_turns: list[dict[str, Any]] = field(default_factory=list)
    responses: list[ResponseRecord] = field(default_factory=list)
    response_requests: list[dict[str, Any]] = field(default_factory=list)
    errors_sent: list[dict[str, Any]] = field(default_factory=list)
    dropped: bool = False
    closed: bool = False

    @property
    def instructions(self) -> str | None:
        value = self.session.get("instructions")
        return value if isinstance(value, str) else None

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.session.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [str(tool.get("name")) for tool in self.tools]

    @property
    def voice(self) -> str | None:
        voice = self.session.get("audio", {}).get("output", {}).get("voice")
        return voice if isinstance(voice, str) else None

    @property
    def function_outputs(self) -> list[dict[str, Any]]:
        return [i for i in self.items if i.get("type") == "function_call_output"]

    def types(self) -> list[str]:
        return [str(event.get("type")) for event in self.events]


@dataclass
class ChatRecord:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    stream: bool
    authorization: str | None
    body: dict[str, Any]

    @property
    def tool_names(self) -> list[str]:
        return [str(t.get("function", {}).get("name")) for t in self.tools]

    @property
    def instructions(self) -> str:
        return "\n".join(
            str(m.get("content") or "")
            for m in self.messages
            if m.get("role") in ("system", "developer")
        )


@dataclass
class TranscriptionRecord:
    model: str
    language: str | None
    audio_ms: float
    text: str
    authorization: str | None


@dataclass
class SpeechRecord:
    model: str
    input: str
    voice: str
    response_format: str
    stream_format: str | None
    instructions: str | None
    authorization: str | None
