"""What the double's "model" does, turn by turn, and what it was asked.

A `Turn` is one model response: words to say, tools to call, or a fault. Realtime responses and
chat completions (the pipeline LLM, the summary) take turns from one queue, in order; what the
human "said" (input transcriptions, the STT) comes from a second queue of lines:

    double.script(
        Turn(say="Hello, thanks for calling."),                   # the greeting
        Turn(calls=[ToolCall("book", {"start": "10:00"})]),       # answers the first user turn
        "You're booked for ten.",                                 # after the tool's output
    )
    double.hear("Book me at ten please")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# The voices the realtime API and the speech endpoint accept (an unknown one is refused).
VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer"}
    | {"verse", "marin", "cedar"}
)


@dataclass(frozen=True)
class ToolCall:
    name: str
    # A string is sent verbatim: how a test sends malformed arguments.
    arguments: dict[str, Any] | str = field(default_factory=dict)

    @property
    def wire_arguments(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass(frozen=True)
class ApiError:
    """An error the model side answers with: an `error` event on the realtime socket, an HTTP
    error with OpenAI's error body on REST."""

    code: str = "server_error"
    message: str = "The server had an error while processing your request."
    type: str = "server_error"
    status: int = 500

    def body(self, event_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        error["param"] = None
        if event_id is not None:
            error["event_id"] = event_id
        return error


@dataclass(frozen=True)
class Turn:
    say: str = ""
    calls: Sequence[ToolCall] = ()
    # Faults: answer with an error instead; close the connection after this many deltas (audio,
    # text or chat chunks) of the answer; wait this long before answering at all.
    error: ApiError | None = None
    drop_after: int | None = None
    delay_s: float = 0.0
    # A realtime response "thinks" this long between `response.created` and its first output
    # (the first audio delta of a spoken answer): the model's own time to first audio, which
    # the client measures from those two events, as against OpenAI.
    first_audio_delay_s: float = 0.0


@dataclass(frozen=True)
class Asked:
    """What a turn answers, for a `Responder` (and the record of an overrun)."""

    via: Literal["realtime", "chat"]
    model: str
    instructions: str
    last_user_text: str | None = None
    last_tool_output: str | None = None


Responder = Callable[[Asked], "Turn | str"]


def as_turn(step: Turn | str) -> Turn:
    return Turn(say=step) if isinstance(step, str) else step
