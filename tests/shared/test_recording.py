"""Session records survive a store outage and a worker restart; nothing is written twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest
from livekit.agents import llm
from livekit.agents.metrics.usage import (
    AgentSessionUsage,
    LLMModelUsage,
    STTModelUsage,
    TTSModelUsage,
)

from shared.contracts import (
    CallTurn,
    EndReason,
    NewCallSession,
    SessionKind,
    SessionStatus,
    TokenUsage,
)
from shared.recording import (
    MAX_TRANSCRIPT_BYTES,
    CallEnd,
    SessionRecorder,
    transcript_from,
    usage_from,
)
from shared.store.postgres import PostgresStore
from tests.support.tcp_proxy import TcpProxy, via

USAGE = [TokenUsage(model="gpt-realtime", input_tokens=120, output_tokens=30, audio_seconds=4.5)]
SPOKEN = datetime(2026, 11, 21, 9, 0, 14, tzinfo=UTC)
TURNS = [
    CallTurn(turn=1, item_id="item_greeting", spoken_at=SPOKEN, model_ttfa_s=0.3),
    CallTurn(turn=2, item_id="item_answer", spoken_at=SPOKEN, latency_s=0.8, model_ttfa_s=0.4),
]


async def connect(database_url: str, proxy: TcpProxy) -> PostgresStore:
    return await PostgresStore.connect(via(database_url, proxy), attempts=2, timeout_s=3)


@pytest.fixture
async def proxied_store(database_url: str, proxy: TcpProxy) -> AsyncIterator[PostgresStore]:
    """A store whose network path to the real database the test can cut."""
    connected = await connect(database_url, proxy)
    yield connected
    await connected.close()


def new_call(**values: object) -> NewCallSession:
    return NewCallSession.model_validate(
        {
            "agent_id": None,
            "room_name": f"voxie-creation-{uuid4().hex[:12]}",
            "kind": SessionKind.CREATION,
            "deployment": "test",
            "job_id": "AJ_test",
            **values,
        }
    )


def ended(session_id: object, **values: object) -> CallEnd:
    return CallEnd(
        session_id=session_id,  # type: ignore[arg-type]
        end_reason=EndReason.GRACE_EXPIRED,
        transcript=[{"type": "message", "role": "user", "content": ["hi"]}],
        summary="The caller said hi.",
        usage=USAGE,
        turns=TURNS,
        **values,  # type: ignore[arg-type]
    )


async def stored(database_url: str, session_id: object) -> tuple[str, str | None, int, int, int]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "select s.status, s.end_reason,"
            " (select count(*) from call_transcripts t where t.session_id = s.id) as transcripts,"
            " (select count(*) from token_usage u where u.session_id = s.id) as usage,"
            " (select count(*) from call_turns t where t.session_id = s.id) as turns"
            " from call_sessions s where s.id = $1",
            session_id,
        )
    finally:
        await conn.close()
    assert row is not None, f"no call_sessions row {session_id}"
    return row["status"], row["end_reason"], row["transcripts"], row["usage"], row["turns"]


async def test_with_the_store_up_everything_is_written_at_once(
    database_url: str, store: PostgresStore, tmp_path: Path
) -> None:
    recorder = SessionRecorder(store, tmp_path)
    session_id = await recorder.start(new_call())
    assert await stored(database_url, session_id) == ("active", None, 0, 0, 0)
    assert await recorder.finish(ended(session_id)) is True
    assert await stored(database_url, session_id) == ("ended", "grace_expired", 1, 1, 2)
    assert recorder.pending == 0
    assert await store.get_transcript(session_id) == (
        [{"type": "message", "role": "user", "content": ["hi"]}],
        "The caller said hi.",
    )


async def test_a_job_records_itself_on_the_open_row_the_dispatch_names_and_on_no_other_jobs(
    database_url: str, store: PostgresStore, tmp_path: Path
) -> None:
    recorder = SessionRecorder(store, tmp_path)
    opened = await store.start_session(new_call(id=uuid4(), job_id=None))  # by the backend
    assert await recorder.start(new_call(id=opened.id, job_id="AJ_first")) == opened.id
    assert (await store.get_session(opened.id)).job_id == "AJ_first"
    assert await recorder.start(new_call(id=opened.id, job_id="AJ_first")) == opened.id  # again
    # Another job while the first has it (dispatched again after its worker died): its own row.
    other = await recorder.start(new_call(id=opened.id, job_id="AJ_other"))
    assert other != opened.id and (await store.get_session(other)).job_id == "AJ_other"
    assert await recorder.finish(ended(opened.id)) is True
    # Dispatched again after that call ended: this job's call gets a row of its own, and the
    # ended one keeps its end and transcript.
    again = await recorder.start(new_call(id=opened.id, job_id="AJ_again"))
    assert again != opened.id
    assert (await store.get_session(again)).job_id == "AJ_again"
    assert await stored(database_url, again) == ("active", None, 0, 0, 0)
    assert await stored(database_url, opened.id) == ("ended", "grace_expired", 1, 1, 2)
    assert (await store.get_session(opened.id)).job_id == "AJ_first"


async def test_a_call_ending_during_an_outage_survives_a_worker_restart(
    database_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    store = await connect(database_url, proxy)
    recorder = SessionRecorder(store, tmp_path)
    session_id = await recorder.start(new_call())
    proxy.cut()
    assert await recorder.finish(ended(session_id)) is False
    assert recorder.pending == 1
    assert await recorder.replay() == 0  # still down: kept, not lost
    await store.close()  # the worker goes away with the store still down

    proxy.restore()
    restarted_store = await connect(database_url, proxy)
    try:
        restarted = SessionRecorder(restarted_store, tmp_path)
        assert restarted.pending == 1
        assert await restarted.replay() == 1
        assert restarted.pending == 0
        assert await stored(database_url, session_id) == ("ended", "grace_expired", 1, 1, 2)
        assert await restarted_store.get_usage(session_id) == USAGE
    finally:
        await restarted_store.close()


async def test_a_call_starting_and_ending_during_an_outage_is_written_in_order(
    database_url: str, proxied_store: PostgresStore, proxy: TcpProxy, tmp_path: Path
) -> None:
    recorder = SessionRecorder(proxied_store, tmp_path)
    proxy.cut()
    session_id = await recorder.start(new_call())
    assert await recorder.finish(ended(session_id, status=SessionStatus.FAILED)) is False
    assert recorder.pending == 1
    proxy.restore()
    assert await recorder.replay() == 1
    assert await stored(database_url, session_id) == ("failed", "grace_expired", 1, 1, 2)
    # Replaying the same record again (a second process, a crash before delete) is harmless.
    assert await recorder.replay() == 0
    assert await proxied_store.get_turns(session_id) == TURNS


async def test_a_record_replayed_twice_writes_its_turns_once(
    database_url: str, proxied_store: PostgresStore, proxy: TcpProxy, tmp_path: Path
) -> None:
    """A crash between the store's write and the spool file's removal: the same record is
    replayed again, by this process or another sharing the directory."""
    recorder = SessionRecorder(proxied_store, tmp_path)
    session_id = await recorder.start(new_call())
    proxy.cut()
    assert await recorder.finish(ended(session_id)) is False
    proxy.restore()
    spooled = tmp_path / f"{session_id}.json"  # the spool names a record by its session
    record = spooled.read_bytes()
    assert await recorder.replay() == 1
    spooled.write_bytes(record)  # as if the removal never happened
    assert await recorder.replay() == 1
    assert await stored(database_url, session_id) == ("ended", "grace_expired", 1, 1, 2)
    assert await proxied_store.get_turns(session_id) == TURNS


async def test_the_end_follows_a_spooled_start_directly_when_the_store_is_back(
    database_url: str, proxied_store: PostgresStore, proxy: TcpProxy, tmp_path: Path
) -> None:
    recorder = SessionRecorder(proxied_store, tmp_path)
    proxy.cut()
    session_id = await recorder.start(new_call())
    proxy.restore()
    assert await recorder.finish(ended(session_id)) is True
    assert recorder.pending == 0
    assert await stored(database_url, session_id) == ("ended", "grace_expired", 1, 1, 2)


class CountingStarts:
    """The real store, counting the start writes the recorder asks of it."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.starts = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    async def start_session(self, new: NewCallSession) -> object:
        self.starts += 1
        return await self.store.start_session(new)


async def test_the_recorder_adds_no_retries_to_the_stores_own(
    proxied_store: PostgresStore, proxy: TcpProxy, tmp_path: Path
) -> None:
    counting = CountingStarts(proxied_store)
    recorder = SessionRecorder(counting, tmp_path)  # type: ignore[arg-type]
    proxy.cut()
    await recorder.start(new_call())  # the store retried (attempts=2) and gave up: spooled
    assert counting.starts == 1 and recorder.pending == 1


async def test_records_the_store_refuses_are_set_aside_not_retried_forever(
    database_url: str, proxied_store: PostgresStore, proxy: TcpProxy, tmp_path: Path
) -> None:
    recorder = SessionRecorder(proxied_store, tmp_path)
    # An end for a session the store never heard of, and a corrupt spool file.
    assert await recorder.finish(ended(uuid4())) is False
    (tmp_path / f"{uuid4()}.json").write_text("{not json")
    assert await recorder.replay() == 0
    assert recorder.pending == 0
    assert len(list((tmp_path / "dead").iterdir())) == 1


def test_transcripts_are_bounded_and_keep_the_newest_turns() -> None:
    history = llm.ChatContext()
    for turn in range(400):
        history.add_message(role="user", content=f"turn {turn} " + "x" * 4000)
    items = transcript_from(history)
    assert items[0]["type"] == "truncated" and items[0]["dropped_items"] > 0
    assert len(json.dumps(items)) <= MAX_TRANSCRIPT_BYTES + 100
    assert items[-1]["content"][0].startswith("turn 399 ")

    short = llm.ChatContext()
    short.add_message(role="assistant", content="Hello!")
    assert [item["content"] for item in transcript_from(short)] == [["Hello!"]]


def test_usage_is_one_row_per_model() -> None:
    usage = AgentSessionUsage(
        model_usage=[
            LLMModelUsage(
                provider="openai",
                model="gpt-realtime",
                input_tokens=100,
                output_tokens=20,
                input_audio_tokens=80,
                output_audio_tokens=15,
            ),
            TTSModelUsage(
                provider="openai", model="tts-1", characters_count=300, audio_duration=12.5
            ),
            STTModelUsage(provider="openai", model="whisper-1", audio_duration=30.0),
            LLMModelUsage(provider="openai", model="unused"),
        ]
    )
    rows = {row.model: row for row in usage_from(usage)}
    assert set(rows) == {"gpt-realtime", "tts-1", "whisper-1"}
    assert rows["gpt-realtime"].input_audio_tokens == 80
    assert rows["tts-1"].audio_seconds == 12.5
