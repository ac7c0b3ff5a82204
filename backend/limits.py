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
# The agent-room count is re-read from LiveKit at most this often; rooms this replica created
# since are added, so a burst from one replica cannot overshoot the capacity.
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
    """How many agent rooms run now, from LiveKit's room list (the only source of truth)."""

    def __init__(
        self,
        list_room_names: Callable[[], Awaitable[list[str]]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list = list_room_names
        self._clock = clock
        self._count = 0
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def agent_rooms(self) -> int:
        if self._read_at is None or self._clock() - self._read_at > CENSUS_TTL_S:
            async with self._lock:
                if self._read_at is None or self._clock() - self._read_at > CENSUS_TTL_S:
                    names = await self._list()
                    self._count = sum(1 for n in names if _is_agent_room(n))
                    self._read_at = self._clock()
        return self._count

    def created(self) -> None:
        self._count += 1

    def closed(self) -> None:
        self._count = max(0, self._count - 1)


def _is_agent_room(name: str) -> bool:
    parsed = parse_room_name(name)
    return parsed is not None and parsed.kind is RoomKind.AGENT


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
