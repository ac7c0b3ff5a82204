"""Admission limits for new rooms: a per-caller rate and the platform's agent-room capacity."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.naming import RoomKind, parse_room_name

# Buckets of callers idle this long are dropped, so the table does not grow without bound.
_IDLE_FORGET_S = 600.0
# LiveKit's agent-room list is re-read at most this often; rooms reserved since are counted by
# their slots in the store (see admission), so the list's age cannot overshoot the capacity.
CENSUS_TTL_S = 1.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per caller: `per_minute` rooms a minute, bursts up to `per_minute`.

    In memory, per replica: with N replicas behind a balancer a caller gets up to N times the
    rate, which is fine for its purpose (stopping a runaway client from filling LiveKit).
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float | None:
        """None if `key` may go ahead now, else the seconds until it may."""
        now = self._clock()
        if len(self._buckets) > 10_000:
            self._forget_idle(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._capacity, now)
        bucket.tokens = min(
            self._capacity, bucket.tokens + (now - bucket.updated) * self._per_second
        )
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self._per_second

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if now - b.updated > _IDLE_FORGET_S]:
            del self._buckets[key]


class RoomCensus:
    """The agent rooms LiveKit lists now (the only source of truth for rooms that run), read at
    most every CENSUS_TTL_S. Concurrent callers share one read; no lock is held while LiveKit
    is asked, and the read itself has the LiveKit call's deadline (within the budget of the
    request that started it), so a hung LiveKit costs each caller one deadline at most and the
    next read starts afresh."""

    def __init__(
        self,
        list_room_names: Callable[[], Awaitable[list[str]]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list = list_room_names
        self._clock = clock
        self._names: list[str] = []
        self._read_at: float | None = None
        self._reading: asyncio.Future[list[str]] | None = None

    async def agent_rooms(self) -> list[str]:
        if self._read_at is not None and self._clock() - self._read_at <= CENSUS_TTL_S:
            return self._names
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
            self._reading.add_done_callback(self._done)
        # Shielded: one caller giving up (its client went away) does not cancel the others' read.
        return await asyncio.shield(self._reading)

    async def _read(self) -> list[str]:
        names = [n for n in await self._list() if _is_agent_room(n)]
        self._names, self._read_at = names, self._clock()
        return names

    def forget(self, name: str) -> None:
        """`name` ended: stop counting it before the next read."""
        self._names = [n for n in self._names if n != name]

    def _done(self, reading: asyncio.Future[list[str]]) -> None:
        self._reading = None
        if not reading.cancelled():
            reading.exception()  # retrieved here: every waiter already got it


def _is_agent_room(name: str) -> bool:
    parsed = parse_room_name(name)
    return parsed is not None and parsed.kind is RoomKind.AGENT


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
