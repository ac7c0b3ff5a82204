"""Latency measurement shared by the benchmarks."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable


async def measure(
    n: int, concurrency: int, op: Callable[[int], Awaitable[object]]
) -> tuple[list[float], float]:
    """Latencies (s) of n calls with `concurrency` in flight, and the wall time."""
    latencies: list[float] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < n:
            index = next_index
            next_index += 1
            start = time.perf_counter()
            await op(index)
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


def row(name: str, latencies: list[float], wall: float) -> str:
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return (
        f"{name:<34} p50 {q[49] * 1e3:7.2f} ms  p95 {q[94] * 1e3:7.2f} ms  "
        f"p99 {q[98] * 1e3:7.2f} ms  {len(latencies) / wall:8.0f} ops/s"
    )
