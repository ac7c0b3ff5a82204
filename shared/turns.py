"""Per-turn latency: for each spoken agent reply of a call, how long the caller waited for it
(the end of their turn, spoken or typed, to the agent's first audio) and the model's own time
to first audio.

Both workers measure it the same way, in the shared call skeleton (`shared.call.Call`):

    turns = TurnLatencies.watch(session)        # when the session is built
    ...
    call_end(..., turns=turns.turns(session.history))   # when the call ends: `CallTurn`s

Where the figures come from (livekit-agents 1.8): every assistant `ChatMessage` LiveKit adds
to the history carries `metrics.started_speaking_at`, when its first audio frame went to the
room. The caller's wait is that minus the end of their speech. LiveKit computes it itself
(`metrics.e2e_latency`) only where its own recognition knows when the caller stopped (a local
VAD: the pipeline agents); with the realtime model's server-side turn detection it records
none, so the end of speech is taken from the session's `user_state_changed` events instead
(speaking → listening: the model's `input_audio_buffer.speech_stopped` as it arrived, or the
VAD's backdated end; for a message the caller typed, LiveKit holds the state at speaking while
it takes the message, so the end is when it was handed over) — the last one after the previous
reply started and before this one did; a reply nothing from the caller preceded (the greeting,
a second reply in a row) has no wait. A pipeline reply also carries its
LLM's time to first token and its TTS's time to first byte. A realtime model's own time to
first audio (`response.created` to the first `response.output_audio.delta`) is reported only
as `RealtimeModelMetrics.ttft` in `metrics_collected` events, keyed by the response id the reply
names in `metrics.provider_request_ids`. Both event streams are collected while the call runs
and joined with the history at its end.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from livekit.agents import AgentSession, llm
from livekit.agents.metrics import RealtimeModelMetrics

from shared.contracts.sessions import MAX_TURNS, CallTurn

if TYPE_CHECKING:
    from livekit.agents.voice.events import MetricsCollectedEvent, UserStateChangedEvent


class TurnLatencies:
    """One session's ends of caller speech and the model's reported times to first audio."""

    def __init__(self) -> None:
        # Bounded like the turns: a runaway call cannot grow them without end.
        self._model_ttfa: OrderedDict[str, float] = OrderedDict()
        self._speech_ends: deque[float] = deque(maxlen=MAX_TURNS)

    @classmethod
    def watch(cls, session: AgentSession[Any]) -> TurnLatencies:
        latencies = cls()
        # `AgentSession.on` logs a deprecation warning for this event (usage moved to
        # `session_usage_updated`, latency to ChatMessage.metrics), yet a realtime model's ttft
        # is reported nowhere else in 1.8: subscribe through the emitter itself, so every call
        # does not log that warning.
        super(AgentSession, session).on("metrics_collected", latencies.collected)
        session.on("user_state_changed", latencies.user_state_changed)
        return latencies

    def user_state_changed(self, event: UserStateChangedEvent) -> None:
        if event.old_state == "speaking" and event.new_state != "speaking":
            self._speech_ends.append(event.created_at)

    def collected(self, event: MetricsCollectedEvent) -> None:
        metrics = event.metrics
        if not isinstance(metrics, RealtimeModelMetrics):
            return
        # -1: the response sent no audio (cancelled first, or a tool call only).
        if metrics.ttft < 0 or not metrics.request_id:
            return
        self._model_ttfa[metrics.request_id] = metrics.ttft
        while len(self._model_ttfa) > MAX_TURNS:
            self._model_ttfa.popitem(last=False)

    def turns(self, history: llm.ChatContext) -> list[CallTurn]:
        return turns_from(history, self._model_ttfa, sorted(self._speech_ends))


def turns_from(
    history: llm.ChatContext, model_ttfa: dict[str, float], speech_ends: Sequence[float] = ()
) -> list[CallTurn]:
    """The spoken agent replies of `history`, numbered from 1, the newest MAX_TURNS kept.
    A reply that never reached the room (no first frame: interrupted before it played) is no
    turn: the caller heard nothing and waited for the next. `speech_ends`: when the caller
    stopped speaking, in order (for replies LiveKit measured no wait for)."""
    turns: list[CallTurn] = []
    previous_start = float("-inf")
    for item in history.items:
        if not isinstance(item, llm.ChatMessage) or item.role != "assistant":
            continue
        metrics = item.metrics
        started = metrics.get("started_speaking_at")
        if started is None:
            continue
        latency = metrics.get("e2e_latency")
        if latency is None:
            latency = _caller_wait(speech_ends, previous_start, started)
        previous_start = started
        turns.append(
            CallTurn(
                turn=len(turns) + 1,
                item_id=item.id[:128] or None,
                spoken_at=datetime.fromtimestamp(started, UTC),
                latency_s=_seconds(latency),
                model_ttfa_s=_model_ttfa(metrics, model_ttfa),
                interrupted=item.interrupted,
            )
        )
    return turns[-MAX_TURNS:]


def _caller_wait(speech_ends: Sequence[float], after: float, started: float) -> float | None:
    """From the caller's last end of speech in (after, started] to `started`."""
    last = bisect.bisect_right(speech_ends, started) - 1
    if last < 0 or speech_ends[last] <= after:
        return None
    return started - speech_ends[last]


def _model_ttfa(metrics: llm.MetricsReport, reported: dict[str, float]) -> float | None:
    for request_id in metrics.get("provider_request_ids", ()):
        if (ttfa := reported.get(request_id)) is not None:
            return ttfa
    # A pipeline: its LLM's first token, then its TTS's first audio for that text.
    llm_ttft, tts_ttfb = metrics.get("llm_node_ttft"), metrics.get("tts_node_ttfb")
    if llm_ttft is not None and tts_ttfb is not None:
        return _seconds(llm_ttft + tts_ttfb)
    return None


def _seconds(value: float | None) -> float | None:
    # A clock step between the two stamps can make a difference negative: unknown, not zero.
    return value if value is not None and value >= 0 else None
