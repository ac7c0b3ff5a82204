"""A small, known call history for the analytics tests, and its figures worked out by hand.

Window: [2026-11-01, 2026-11-04) UTC. Eight calls of the agent fall inside it; one starts
exactly at `to` and one just before `from` (both outside), and another agent has a call inside.

    call  started (UTC)    duration  end reason     version  tools (calls/errors)  tokens
    s1    11-01 10:00      60        grace_expired  1        2 / 1                 realtime
    s2    11-01 11:00      120       user_hangup    1        -
    s3    11-01 12:00      30        error          1        -
    s8    11-01 05:00      80        lost           draft    -
    s4    11-02 09:00      200       end_call       2        1 / 1                 realtime, mini
    s5    11-02 23:59:59   100       max_duration   2        -   (ends on 11-03)
    s6    11-02 10:00      (active)  -              2        -
    s7    11-03 00:00:00   40        room_closed    draft    -                     realtime

Durations sorted, with percentile_cont's linear interpolation (rank (n - 1) * p):
    v1 [30, 60, 120]        median 60, p90 60 + 0.8 * 60 = 108
    v2 [100, 200]           median 150, p90 100 + 0.9 * 100 = 190
    draft [40, 80]          median 60, p90 40 + 0.9 * 40 = 76
    11-01 [30, 60, 80, 120] median 70, p90 80 + 0.7 * 40 = 108
    11-03 [40]              median 40, p90 40
    all [30, 40, 60, 80, 100, 120, 200]  median 80, p90 120 + 0.4 * 80 = 152

Turn latencies (TURNS; an unmeasured turn, None, counts in neither), p50 and p95 the same way:
    v1 = 11-01 [0.5, 0.7, 1.0]  p50 0.7, p95 0.7 + 0.9 * 0.3 = 0.97
    v2 = 11-02 [0.4, 2.0]       p50 0.4 + 0.5 * 1.6 = 1.2, p95 0.4 + 0.95 * 1.6 = 1.92
    draft = 11-03 [0.9]         p50 0.9, p95 0.9
    all [0.4, 0.5, 0.7, 0.9, 1.0, 2.0]  p50 0.7 + 0.5 * 0.2 = 0.8, p95 1.0 + 0.75 * 1.0 = 1.75
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from shared.contracts import CallTurn, TokenUsage
from shared.contracts.analytics import AnalyticsWindow, GroupBy
from shared.store import AgentStore

FROM = datetime(2026, 11, 1, tzinfo=UTC)
TO = datetime(2026, 11, 4, tzinfo=UTC)


def window(group_by: GroupBy) -> AnalyticsWindow:
    return AnalyticsWindow(start=FROM, end=TO, group_by=group_by)


def _at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


REALTIME = "gpt-realtime"
MINI = "gpt-4o-mini"

# name: (started_at, duration_s or None while active, end_reason, version)
CALLS: dict[str, tuple[datetime, float | None, str | None, int | None]] = {
    "s1": (_at(1, 10), 60, "grace_expired", 1),
    "s2": (_at(1, 11), 120, "user_hangup", 1),
    "s3": (_at(1, 12), 30, "error", 1),
    "s8": (_at(1, 5), 80, "lost", None),
    "s4": (_at(2, 9), 200, "end_call", 2),
    "s5": (_at(2, 23, 59, 59), 100, "max_duration", 2),
    "s6": (_at(2, 10), None, None, 2),
    "s7": (_at(3, 0), 40, "room_closed", None),
    # outside the window
    "s9": (TO, 10, "grace_expired", 1),
    "s10": (FROM - timedelta(seconds=1), 10, "grace_expired", 1),
}

TOOL_ITEMS: dict[str, list[dict[str, Any]]] = {
    "s1": [
        {"type": "message", "role": "user", "content": ["book me in"]},
        {"type": "function_call", "call_id": "c1", "name": "book", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "503", "is_error": True},
        {"type": "function_call", "call_id": "c2", "name": "book", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c2", "output": "ok", "is_error": False},
    ],
    "s4": [
        {"type": "function_call", "call_id": "c3", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c3", "output": "boom", "is_error": True},
    ],
    "s9": [{"type": "function_call", "call_id": "c4", "name": "book", "arguments": "{}"}],
}

USAGE: dict[str, list[TokenUsage]] = {
    "s1": [
        TokenUsage(
            model=REALTIME,
            input_tokens=1000,
            output_tokens=500,
            input_audio_tokens=800,
            output_audio_tokens=400,
        )
    ],
    "s4": [
        TokenUsage(
            model=REALTIME,
            input_tokens=2000,
            output_tokens=1000,
            input_audio_tokens=1500,
            output_audio_tokens=900,
        ),
        TokenUsage(model=MINI, input_tokens=300, output_tokens=50),
    ],
    "s7": [TokenUsage(model=REALTIME, input_tokens=100, output_tokens=10, audio_seconds=2.5)],
    "s9": [TokenUsage(model=REALTIME, input_tokens=99_999, output_tokens=99_999)],
}


# Each session's turns' latencies, in order; None: nothing from the caller preceded it.
TURNS: dict[str, list[float | None]] = {
    "s1": [None, 0.5, 1.0],
    "s2": [0.7],
    "s4": [2.0, 0.4],
    "s7": [0.9],
    "s9": [9.0],
}


def turns_of(started: datetime, latencies: list[float | None]) -> list[CallTurn]:
    return [
        CallTurn(
            turn=n,
            item_id=f"item_{n}",
            spoken_at=started + timedelta(seconds=10 * n),
            latency_s=latency,
            model_ttfa_s=latency / 2 if latency is not None else None,
        )
        for n, latency in enumerate(latencies, start=1)
    ]


async def seed(
    db: asyncpg.Connection, store: AgentStore, agent_id: UUID, owner_id: UUID, other: UUID
) -> dict[str, UUID]:
    """Writes the history (transcripts and usage through `store`); the session ids by name."""
    ids: dict[str, UUID] = {}
    for name, (started, duration, reason, version) in CALLS.items():
        ids[name] = await insert_session(db, agent_id, owner_id, started, duration, reason, version)
    await insert_session(db, other, owner_id, _at(2, 12), 999, "grace_expired", 1)
    for name, items in TOOL_ITEMS.items():
        await store.write_transcript(ids[name], items)
    for name, usage in USAGE.items():
        await store.write_usage(ids[name], usage)
    for name, latencies in TURNS.items():
        await store.write_turns(ids[name], turns_of(CALLS[name][0], latencies))
    return ids


async def insert_session(
    db: asyncpg.Connection,
    agent_id: UUID,
    owner_id: UUID,
    started: datetime,
    duration_s: float | None,
    end_reason: str | None,
    version: int | None,
) -> UUID:
    """A session row as a worker leaves it (its start time is the test's, not now())."""
    session_id = uuid4()
    ended = started + timedelta(seconds=duration_s) if duration_s is not None else None
    await db.execute(
        "insert into public.call_sessions (id, agent_id, owner_id, room_name, kind, deployment,"
        " status, started_at, ended_at, end_reason, agent_version)"
        " values ($1, $2, $3, $4, 'test', 'test', $5, $6, $7, $8, $9)",
        session_id,
        agent_id,
        owner_id,
        f"agent-{agent_id}-{session_id.hex[:10]}",
        "active" if ended is None else ("failed" if end_reason in ("error", "lost") else "ended"),
        started,
        ended,
        end_reason,
        version,
    )
    return session_id


def rounded(value: Any) -> Any:
    """`value` with every float rounded to 9 places (152.00000000000003 is 152)."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def _figures(
    key: str | None,
    calls: int,
    completed: int,
    errored: int,
    abandoned: int,
    active: int,
    grace: int,
    median: float | None,
    p90: float | None,
    tool_calls: int,
    tool_errors: int,
    tokens: list[dict[str, Any]],
    version: int | None = None,
    day: str | None = None,
    turns: tuple[int, float | None, float | None] = (0, None, None),
) -> dict[str, Any]:
    return {
        "key": key,
        "version": version,
        "day": day,
        "calls": calls,
        "completed": completed,
        "errored": errored,
        "abandoned": abandoned,
        "active": active,
        "grace_expiries": grace,
        "median_duration_s": median,
        "p90_duration_s": p90,
        "tool_calls": tool_calls,
        "tool_errors": tool_errors,
        "tool_error_rate": round(tool_errors / tool_calls, 9) if tool_calls else None,
        "turns": turns[0],
        "p50_turn_latency_s": turns[1],
        "p95_turn_latency_s": turns[2],
        "tokens": tokens,
        "cost_usd": None,
    }


def _tokens(
    model: str,
    inp: int,
    out: int,
    inp_audio: int = 0,
    out_audio: int = 0,
    seconds: float = 0.0,
) -> dict[str, Any]:
    return {
        "model": model,
        "input_tokens": inp,
        "output_tokens": out,
        "input_audio_tokens": inp_audio,
        "output_audio_tokens": out_audio,
        "audio_seconds": seconds,
        "cost_usd": None,
    }


V1_TURNS = (3, 0.7, 0.97)
V2_TURNS = (2, 1.2, 1.92)
DRAFT_TURNS = (1, 0.9, 0.9)
V1_TOKENS = [_tokens(REALTIME, 1000, 500, 800, 400)]
V2_TOKENS = [_tokens(MINI, 300, 50), _tokens(REALTIME, 2000, 1000, 1500, 900)]
DRAFT_TOKENS = [_tokens(REALTIME, 100, 10, seconds=2.5)]

TOTAL = _figures(
    None, 8, 3, 2, 2, 1, 1, 80, 152, 3, 2,
    [_tokens(MINI, 300, 50), _tokens(REALTIME, 3100, 1510, 2300, 1300, 2.5)],
    turns=(6, 0.8, 1.75),
)  # fmt: skip

BY_VERSION = [
    _figures("draft", 2, 0, 1, 1, 0, 0, 60, 76, 0, 0, DRAFT_TOKENS, turns=DRAFT_TURNS),
    _figures("1", 3, 2, 1, 0, 0, 1, 60, 108, 2, 1, V1_TOKENS, version=1, turns=V1_TURNS),
    _figures("2", 3, 1, 0, 1, 1, 0, 150, 190, 1, 1, V2_TOKENS, version=2, turns=V2_TURNS),
]

BY_DAY = [
    _figures(
        "2026-11-01", 4, 2, 2, 0, 0, 1, 70, 108, 2, 1, V1_TOKENS, day="2026-11-01", turns=V1_TURNS
    ),
    _figures(
        "2026-11-02", 3, 1, 0, 1, 1, 0, 150, 190, 1, 1, V2_TOKENS, day="2026-11-02", turns=V2_TURNS
    ),
    _figures(
        "2026-11-03",
        1,
        0,
        0,
        1,
        0,
        0,
        40,
        40,
        0,
        0,
        DRAFT_TOKENS,
        day="2026-11-03",
        turns=DRAFT_TURNS,
    ),
]
