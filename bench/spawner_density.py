"""Spawner density: `python -m bench.spawner_density [--sessions 40] [--pool 8]`.

How many calls one replica holds, thread vs process job executors, in two measured parts:

1. The executor's cost: a real `python -m spawner start` is started with a prewarmed pool of
   1 and of `--pool` job executors (threads or processes); the difference in the proportional
   set size (PSS, shared pages split fairly) of the whole process tree, divided by the extra
   executors, is what each job's executor costs before it does anything.
2. A call's cost: `--sessions` concurrent text-mode sessions, each on its own thread and event
   loop as the thread executor runs them, built by the spawner's factory from a stored-size
   config with a scripted LLM, three turns each and kept alive together; the RSS growth divided
   by the sessions is what a running call adds. Turn latency under that load is reported too.

Memory per call = executor + call. The count one replica holds is bounded by the memory this
machine has available now and by CPU (text mode has no audio, so the CPU bound here is the
agent logic only; audio adds to it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import psutil

from bench.spawner_support import bench_agent, bench_database, spawner_env
from shared.addresses import AddressGuard
from shared.contracts import AgentConfig
from shared.logging import configure_logging
from shared.tool_access import BoundSecret
from spawner import factory
from spawner.tools import ToolContext
from tests.conftest import make_settings
from tests.support.livekit import LiveKitDouble
from tests.support.processes import ServiceProcess
from tests.support.scripted_llm import Request, ScriptedLLM

MB = 1024 * 1024


def tree_pss(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_full_info().pss
        except psutil.NoSuchProcess:
            continue
    return total / MB


async def replica_pss(dsn: str, executor: str, pool: int) -> float:
    with LiveKitDouble() as livekit, tempfile.TemporaryDirectory() as tmp:
        env = spawner_env(livekit, dsn, Path(tmp), executor=executor, idle=pool)
        process = ServiceProcess(["-m", "spawner", "start"], Path(tmp), label="s", env=env)
        try:
            await livekit.wait_for_workers(1, "spawner-test", within=120)
            previous = 0.0
            for _ in range(60):  # until the pool has warmed and memory settled
                await asyncio.sleep(1)
                current = tree_pss(process.pid)
                if previous and abs(current - previous) < 1:
                    return current
                previous = current
            return previous
        finally:
            process.stop()


class NoGrants:
    """The owner's grants for sessions that never call a tool (the scripted model only talks):
    the calls measured here must not wait on a store living on another loop."""

    async def guard(self) -> AddressGuard:
        return AddressGuard()

    async def secrets(self, names: Sequence[str]) -> Mapping[str, BoundSecret]:
        return {}


def reply(request: Request) -> str:
    said = [m.text_content for m in request.chat_ctx.messages() if m.role == "user"]
    return f"Happy to help with {said[-1] if said else 'that'}. Anything else?"


def host_sessions(
    config: AgentConfig, count: int
) -> tuple[float, list[float], float, threading.Event, list[threading.Thread]]:
    """Starts `count` sessions on threads; returns RSS growth (MB), turn latencies, CPU s."""
    settings = make_settings(openai_api_key="sk-bench")
    latencies: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(count + 1)
    stop = threading.Event()

    def run() -> None:
        async def converse() -> None:
            async with httpx.AsyncClient() as client:
                tools = ToolContext(client=client, owner=NoGrants())
                agent = factory.build_agent(config, tools, on_end_call=lambda: None)
                model = factory.Models(llm=ScriptedLLM(reply))
                async with factory.build_session(config, settings, models=model) as session:
                    await session.start(agent, capture_run=True)
                    for turn in range(3):
                        start = time.perf_counter()
                        await session.run(user_input=f"question {turn} about my appointment")
                        with lock:
                            latencies.append(time.perf_counter() - start)
                    await asyncio.to_thread(ready.wait)
                    await asyncio.to_thread(stop.wait)

        asyncio.run(converse())

    me = psutil.Process()
    before, cpu_before = me.memory_info().rss, me.cpu_times()
    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    ready.wait(timeout=600)
    cpu_after = me.cpu_times()
    grown = (me.memory_info().rss - before) / MB
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    return grown, latencies, cpu, stop, threads


async def main(sessions: int, pool: int) -> None:
    async with bench_database() as (dsn, store):
        config = await bench_agent(store)
        executors: dict[str, float] = {}
        baselines: dict[str, float] = {}
        for executor in ("thread", "process"):
            small = await replica_pss(dsn, executor, 1)
            large = await replica_pss(dsn, executor, pool)
            baselines[executor] = small
            executors[executor] = (large - small) / (pool - 1)

    # Warm one session first: imports and first-use caches are the replica's, not a call's.
    _, _, _, stop, threads = host_sessions(config, 1)
    stop.set()
    grown, latencies, cpu, stop, threads = host_sessions(config, sessions)
    per_call = grown / sessions
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    available = psutil.virtual_memory().available / MB
    turns = len(latencies)
    print(f"spawner density, {sessions} concurrent text-mode calls, pools of 1 and {pool}")
    print(f"{'a running call (session objects)':<40} {per_call:7.1f} MB")
    print(
        f"{'turn latency at that load':<40} p50 {q[49] * 1e3:6.1f} ms  p95 {q[94] * 1e3:6.1f} ms"
        f"  ({cpu / turns * 1e3:.1f} ms CPU per turn)"
    )
    print(
        f"{'memory available on this machine':<40} {available:7.0f} MB, {psutil.cpu_count()} CPUs"
    )
    for executor in ("thread", "process"):
        per_session = executors[executor] + per_call
        fits = int((available - baselines[executor]) / per_session)
        print(
            f"{executor + ' executor':<40} replica {baselines[executor]:6.0f} MB, "
            f"executor {executors[executor]:6.1f} MB/job, "
            f"{per_session:6.1f} MB per call -> ~{fits} calls by memory"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--pool", type=int, default=8)
    args = parser.parse_args()
    configure_logging("warning", "console")
    asyncio.run(main(args.sessions, args.pool))
