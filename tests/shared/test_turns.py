"""Turn bookkeeping: a session's spoken replies become numbered turns with the caller's wait and
the model's own time to first audio, from what LiveKit records on its history and reports in
its metrics events."""

from __future__ import annotations

from livekit.agents import Agent, AgentSession, llm
from livekit.agents.metrics import LLMMetrics, RealtimeModelMetrics
from livekit.agents.voice.events import MetricsCollectedEvent, UserStateChangedEvent

from shared.contracts.sessions import MAX_TURNS
from shared.turns import TurnLatencies, turns_from
from tests.support.scripted_llm import ScriptedLLM

T0 = 1_800_000_000.0


def realtime_metrics(request_id: str, ttft: float) -> RealtimeModelMetrics:
    return RealtimeModelMetrics(
        request_id=request_id,
        timestamp=T0,
        ttft=ttft,
        input_token_details=RealtimeModelMetrics.InputTokenDetails(),
        output_token_details=RealtimeModelMetrics.OutputTokenDetails(),
    )


def reply(history: llm.ChatContext, item_id: str, **metrics: object) -> None:
    """An assistant message as LiveKit's realtime generation adds it once it has played."""
    message = llm.ChatMessage(role="assistant", content=["..."], id=item_id)
    message.metrics = metrics  # type: ignore[assignment]
    history.insert(message)


async def test_a_scripted_sessions_replies_are_its_turns_without_a_callers_wait() -> None:
    """Typed input (text mode) has no end of speech: each reply is a turn, its wait unknown."""
    model = ScriptedLLM(["Hello there.", "Sure, ten works."])
    async with AgentSession(llm=model) as session:
        latencies = TurnLatencies.watch(session)
        await session.start(Agent(instructions="Answer briefly."))
        await session.run(user_input="Hi")
        await session.run(user_input="Ten please")
        turns = latencies.turns(session.history)
    replies = [m for m in session.history.messages() if m.role == "assistant"]
    assert [t.turn for t in turns] == [1, 2]
    assert [t.item_id for t in turns] == [m.id for m in replies]
    assert all(t.latency_s is None and t.model_ttfa_s is None for t in turns)
    assert turns[0].spoken_at <= turns[1].spoken_at
    model.assert_consumed()


async def test_realtime_turns_join_the_models_reported_ttft_by_response_id() -> None:
    model = ScriptedLLM([])
    async with AgentSession(llm=model) as session:
        latencies = TurnLatencies.watch(session)
        # What the session emits when a realtime response is done (agent_activity's
        # `_on_metrics_collected`): a text-only response reports -1, an LLM's metrics are not
        # a realtime model's.
        for metrics in (
            realtime_metrics("resp_greeting", 0.25),
            realtime_metrics("resp_answer", 0.61),
            realtime_metrics("resp_text_only", -1),
            LLMMetrics(
                label="llm",
                request_id="resp_llm",
                timestamp=T0,
                duration=1.0,
                ttft=0.2,
                cancelled=False,
                completion_tokens=1,
                prompt_tokens=1,
                prompt_cached_tokens=0,
                total_tokens=2,
                tokens_per_second=1.0,
            ),
        ):
            session.emit("metrics_collected", MetricsCollectedEvent(metrics=metrics))
    history = llm.ChatContext()
    reply(history, "item_greeting", started_speaking_at=T0, provider_request_ids=["resp_greeting"])
    history.add_message(role="user", content="Can I book at ten?")
    reply(
        history,
        "item_answer",
        started_speaking_at=T0 + 5,
        e2e_latency=0.93,
        provider_request_ids=["resp_answer"],
    )
    reply(history, "item_unheard", provider_request_ids=["resp_llm"])  # never played: no turn
    reply(
        history,
        "item_text",
        started_speaking_at=T0 + 9,
        e2e_latency=0.4,
        provider_request_ids=["resp_text_only", "resp_llm"],
    )
    turns = latencies.turns(history)
    assert [(t.turn, t.item_id, t.latency_s, t.model_ttfa_s) for t in turns] == [
        (1, "item_greeting", None, 0.25),
        (2, "item_answer", 0.93, 0.61),
        (3, "item_text", 0.4, None),
    ]
    assert turns[1].spoken_at.timestamp() == T0 + 5


async def test_a_server_vad_reply_waits_from_the_callers_last_end_of_speech_before_it() -> None:
    """With the realtime model's own turn detection LiveKit records no e2e_latency: the wait
    runs from the last speaking → listening change (speech_stopped) before the reply."""
    model = ScriptedLLM([])
    async with AgentSession(llm=model) as session:
        latencies = TurnLatencies.watch(session)
        for old, new, at in (
            ("listening", "speaking", T0 + 1.0),
            ("speaking", "listening", T0 + 2.0),
            ("listening", "speaking", T0 + 2.2),  # "…at ten" after a pause: the same turn
            ("speaking", "listening", T0 + 2.5),
            ("listening", "away", T0 + 30.0),  # not an end of speech
        ):
            session.emit(
                "user_state_changed",
                UserStateChangedEvent(old_state=old, new_state=new, created_at=at),
            )
    history = llm.ChatContext()
    reply(history, "item_greeting", started_speaking_at=T0)
    reply(history, "item_answer", started_speaking_at=T0 + 3.1)
    reply(history, "item_follow_up", started_speaking_at=T0 + 8.0)  # no speech since: no wait
    reply(history, "item_measured", started_speaking_at=T0 + 40.0, e2e_latency=0.7)
    turns = latencies.turns(history)
    waits = [t.latency_s for t in turns]
    assert waits[0] is None and waits[2] is None and waits[3] == 0.7
    assert waits[1] is not None and abs(waits[1] - 0.6) < 1e-6


def test_a_pipelines_model_time_is_its_llms_first_token_and_its_tts_first_byte() -> None:
    history = llm.ChatContext()
    reply(
        history,
        "item_1",
        started_speaking_at=T0,
        e2e_latency=1.2,
        llm_node_ttft=0.3,
        tts_node_ttfb=0.15,
    )
    reply(history, "item_2", started_speaking_at=T0 + 3, e2e_latency=0.9, llm_node_ttft=0.3)
    (first, second) = turns_from(history, {})
    assert first.latency_s == 1.2 and first.model_ttfa_s is not None
    assert abs(first.model_ttfa_s - 0.45) < 1e-9
    assert second.model_ttfa_s is None  # no audio reported: not a time to first audio


def test_an_interrupted_reply_counts_and_a_negative_wait_is_unknown() -> None:
    history = llm.ChatContext()
    reply(history, "item_1", started_speaking_at=T0, e2e_latency=-0.01)
    history.items[-1].interrupted = True  # type: ignore[union-attr]
    (turn,) = turns_from(history, {})
    assert turn.interrupted and turn.latency_s is None


def test_a_runaway_call_keeps_its_newest_turns() -> None:
    history = llm.ChatContext()
    for n in range(MAX_TURNS + 5):
        reply(history, f"item_{n}", started_speaking_at=T0 + n, e2e_latency=0.5)
    turns = turns_from(history, {})
    assert len(turns) == MAX_TURNS
    assert turns[-1].item_id == f"item_{MAX_TURNS + 4}" and turns[0].item_id == "item_5"
