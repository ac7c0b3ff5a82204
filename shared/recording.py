"""Session records that survive a store outage: the start and end of every call, its transcript,
token usage and turn latencies, written now if the store answers, else spooled to disk and
replayed later.

Used by both workers (the spawner for test/live calls, Voxie for creation calls):

    recorder = SessionRecorder(store, settings.spool_dir)
    await recorder.replay()                                  # at start: what a past run left
    session_id = await recorder.start(NewCallSession(...))   # never raises for an outage
    ...
    await recorder.finish(call_end(session_id, EndReason.GRACE_EXPIRED, session))

Why a spool and not only retries: a call ends when it ends; a store outage at that moment must
not cost the transcript, and a worker restarting during the outage must not either. Each
session is one JSON file, `<session_id>.json`, written atomically (temp file + rename), holding
the start and/or the end still owed to the store. Every write is idempotent (start by client-
chosen id, first end wins, transcript, usage and turns replaced), so a record replayed twice —
by two processes sharing the directory, or after a crash between write and delete — changes
nothing.
A record the store refuses as invalid is moved to `dead/` and logged, never retried forever.
The recorder does not retry a write itself: the store already retries what is worth retrying
(one retry layer, `shared.store.base.retrying`); what still fails is spooled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.sessions import (
    MAX_TRANSCRIPT_ITEMS,
    CallTurn,
    EndReason,
    NewCallSession,
    SessionStatus,
    TokenUsage,
)
from shared.logging import get_logger
from shared.store.errors import InvalidInput, NotFound, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from livekit.agents import AgentSession, llm
    from livekit.agents.metrics.usage import AgentSessionUsage

    from shared.store import AgentStore

log = get_logger(__name__)

# Transcripts are bounded in bytes as well as items: REST bodies (PostgREST, proxies) stop near
# 1 MiB, and a transcript larger than this is a runaway call, not a conversation.
MAX_TRANSCRIPT_BYTES = 512 * 1024
MAX_ERROR = 2_000


@dataclass(frozen=True, slots=True)
class CallEnd:
    """Everything known when a call ends."""

    session_id: UUID
    end_reason: EndReason
    status: SessionStatus = SessionStatus.ENDED
    error: str | None = None
    ended_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    transcript: Sequence[dict[str, Any]] = ()
    summary: str | None = None
    usage: Sequence[TokenUsage] = ()
    turns: Sequence[CallTurn] = ()


def call_end(
    session_id: UUID,
    reason: EndReason,
    session: AgentSession[Any] | None = None,
    *,
    status: SessionStatus | None = None,
    error: str | None = None,
    summary: str | None = None,
    ended_at: datetime | None = None,
    turns: Sequence[CallTurn] = (),
) -> CallEnd:
    """What is recorded when a call ends: its transcript and token usage if a session got that
    far, and the summary if one was written. The status is `failed` for an error end unless the
    caller knows better (a session that closed itself ends with `error` but `ended`). `ended_at`
    defaults to now; a caller that knows when the conversation ended says so. `turns`: the
    session's measured turns (`shared.turns`)."""
    if status is None:
        status = SessionStatus.FAILED if reason is EndReason.ERROR else SessionStatus.ENDED
    return CallEnd(
        session_id=session_id,
        end_reason=reason,
        status=status,
        error=error,
        transcript=transcript_from(session.history) if session else (),
        summary=summary,
        usage=usage_from(session.usage) if session else (),
        ended_at=ended_at or datetime.now(UTC),
        turns=turns,
    )


class _SpooledEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_reason: EndReason
    status: SessionStatus
    error: str | None = None
    ended_at: datetime
    transcript: list[dict[str, Any]] = Field(default_factory=list)
    summary: str | None = None
    usage: list[TokenUsage] = Field(default_factory=list)
    # Spool files written before turns were recorded have none.
    turns: list[CallTurn] = Field(default_factory=list)


class _SpoolRecord(BaseModel):
    """One session's writes still owed to the store."""

    model_config = ConfigDict(extra="forbid")

    session_id: UUID
    start: NewCallSession | None = None
    end: _SpooledEnd | None = None


class SessionRecorder:
    def __init__(self, store: AgentStore, spool_dir: Path) -> None:
        self._store = store
        self._dir = spool_dir
        self._replay_lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Sessions with writes still owed to the store."""
        return len(self._spooled())

    async def start(self, new: NewCallSession) -> UUID:
        """Records a started call and returns its id; a store outage spools the start.

        The row may be there already, opened by the backend with the room: the start claims
        it. If another job has it (the reconciler dispatched the room again after its agent's
        worker died: the dead call's row is finalised `lost`), or it has ended (dispatched again
        to a caller still waiting after a refusal), this job's call is a row of its own, so no
        end or transcript lands on another job's call."""
        session_id = new.id or uuid4()
        new = new.model_copy(update={"id": session_id})
        try:
            row = await self._store.start_session(new)
            if row.status is not SessionStatus.ACTIVE or row.job_id != new.job_id:
                log.info("session_taken", session_id=str(session_id), room=new.room_name)
                session_id = uuid4()
                new = new.model_copy(update={"id": session_id})
                await self._store.start_session(new)
        except StoreUnavailable as exc:
            log.warning(
                "session_start_spooled",
                session_id=str(session_id),
                room=new.room_name,
                reason=str(exc),
            )
            self._write(_SpoolRecord(session_id=session_id, start=new))
        return session_id

    async def ending(self, session_id: UUID) -> None:
        """The call began to end and its last writes (the summary) follow: readers see it as
        ending now, not when they are done. Only a hint for the pages, so best effort: nothing
        is spooled for it, and a start still in the spool has no row to mark."""
        if self._read(session_id) is not None:
            return
        try:
            await self._store.mark_ending(session_id)
        except StoreError as exc:
            log.warning("session_not_marked_ending", session_id=str(session_id), reason=str(exc))

    async def finish(self, end: CallEnd) -> bool:
        """Records the end, transcript and usage; True if stored now, False if spooled."""
        spooled_end = _SpooledEnd(
            end_reason=end.end_reason,
            status=end.status,
            error=end.error[:MAX_ERROR] if end.error else None,
            ended_at=end.ended_at,
            transcript=list(end.transcript),
            summary=end.summary,
            usage=list(end.usage),
            turns=list(end.turns),
        )
        owed = self._read(end.session_id)
        if owed is not None:
            # The start never reached the store: the end must follow it, in that order.
            self._write(owed.model_copy(update={"end": spooled_end}))
            return await self._replay_one(self._path(end.session_id)) is True
        try:
            await self._write_end(end.session_id, spooled_end)
        except StoreUnavailable as exc:
            log.warning("session_end_spooled", session_id=str(end.session_id), reason=str(exc))
            self._write(_SpoolRecord(session_id=end.session_id, end=spooled_end))
            return False
        except (InvalidInput, NotFound) as exc:
            log.error("session_end_refused", session_id=str(end.session_id), reason=str(exc))
            return False
        return True

    async def replay(self) -> int:
        """Writes what the spool holds; returns how many sessions were completed."""
        done = 0
        async with self._replay_lock:
            for path in self._spooled():
                outcome = await self._replay_one(path)
                if outcome is None:
                    break  # the store is still down: try again later, keep the order
                done += outcome
        if done:
            log.info("session_spool_replayed", sessions=done, pending=self.pending)
        return done

    async def run_replayer(self, interval_s: float = 15.0) -> None:
        """Replays the spool every `interval_s` until cancelled."""
        while True:
            if self.pending:
                await self.replay()
            await asyncio.sleep(interval_s)

    # --- internals ------------------------------------------------------------------------------

    async def _replay_one(self, path: Path) -> bool | None:
        """True: written and removed; False: refused and moved aside; None: store down."""
        try:
            record = _load(path)
        except FileNotFoundError:
            return False  # another process replayed it first
        except ValueError as exc:
            self._bury(path, f"unreadable spool file: {exc}")
            return False
        try:
            if record.start is not None:
                await self._store.start_session(record.start)
            if record.end is not None:
                await self._write_end(record.session_id, record.end)
        except StoreUnavailable:
            return None
        except (InvalidInput, NotFound) as exc:
            self._bury(path, str(exc))
            return False
        _remove(path)
        return True

    async def _write_end(self, session_id: UUID, end: _SpooledEnd) -> None:
        # Transcript, usage and turns before the status: a reader that sees the session ended
        # can trust that its records are complete.
        await self._store.write_transcript(session_id, end.transcript, end.summary)
        if end.usage:
            await self._store.write_usage(session_id, end.usage)
        if end.turns:
            await self._store.write_turns(session_id, end.turns)
        await self._store.finish_session(
            session_id,
            end_reason=end.end_reason,
            status=end.status,
            error=end.error,
            ended_at=end.ended_at,
        )

    def _path(self, session_id: UUID) -> Path:
        return self._dir / f"{session_id}.json"

    def _spooled(self) -> list[Path]:
        if not self._dir.is_dir():
            return []
        return sorted(self._dir.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)

    def _read(self, session_id: UUID) -> _SpoolRecord | None:
        try:
            return _load(self._path(session_id))
        except (FileNotFoundError, ValueError):
            return None

    def _write(self, record: _SpoolRecord) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(record.model_dump_json())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self._path(record.session_id))

    def _bury(self, path: Path, reason: str) -> None:
        dead = self._dir / "dead"
        dead.mkdir(parents=True, exist_ok=True)
        log.error("session_record_refused", spool_file=path.name, reason=reason)
        with contextlib.suppress(FileNotFoundError):
            path.replace(dead / path.name)


# Spool files are a few KiB on local disk: plain synchronous I/O, kept out of the async paths.
def _load(path: Path) -> _SpoolRecord:
    return _SpoolRecord.model_validate_json(path.read_bytes())


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def transcript_from(history: llm.ChatContext) -> list[dict[str, Any]]:
    """The chat history as stored: text items only, the newest kept within the bounds."""
    items: list[dict[str, Any]] = history.to_dict(
        exclude_image=True, exclude_audio=True, exclude_timestamp=False
    )["items"]
    kept: list[dict[str, Any]] = []
    budget = MAX_TRANSCRIPT_BYTES
    for item in reversed(items[-(MAX_TRANSCRIPT_ITEMS - 1) :]):
        size = len(json.dumps(item, default=str))
        if size > budget:
            break
        budget -= size
        kept.append(item)
    kept.reverse()
    if dropped := len(items) - len(kept):
        kept.insert(0, {"type": "truncated", "dropped_items": dropped})
    return kept


def usage_from(usage: AgentSessionUsage) -> list[TokenUsage]:
    """`AgentSession.usage` as one row per model (LLM, realtime, STT and TTS usage summed)."""
    totals: dict[str, dict[str, float]] = {}
    for entry in usage.model_usage:
        model = getattr(entry, "model", "") or "unknown"
        row = totals.setdefault(
            model[:128],
            dict.fromkeys(
                (
                    "input_tokens",
                    "output_tokens",
                    "input_audio_tokens",
                    "output_audio_tokens",
                    "audio_seconds",
                ),
                0,
            ),
        )
        row["input_tokens"] += getattr(entry, "input_tokens", 0)
        row["output_tokens"] += getattr(entry, "output_tokens", 0)
        row["input_audio_tokens"] += getattr(entry, "input_audio_tokens", 0)
        row["output_audio_tokens"] += getattr(entry, "output_audio_tokens", 0)
        row["audio_seconds"] += getattr(entry, "audio_duration", 0.0)
    return [
        TokenUsage(
            model=model,
            input_tokens=int(row["input_tokens"]),
            output_tokens=int(row["output_tokens"]),
            input_audio_tokens=int(row["input_audio_tokens"]),
            output_audio_tokens=int(row["output_audio_tokens"]),
            audio_seconds=row["audio_seconds"],
        )
        for model, row in totals.items()
        if any(row.values())
    ]
