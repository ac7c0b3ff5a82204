"""Spawn → agent joined, on a real LiveKit server: `python -m bench.spawn_join [--calls 50]`.

Real processes over loopback: a local livekit-server (its start time is the first figure),
`python -m backend`, and one spawner worker — first the platform's (`python -m spawner start`,
thread executor, prewarmed), then the seeds' shape (`python -m bench.seed_spawner start`: one
idle process, process executor, config loaded after `ctx.connect()`), measured the same way in
the same run. For each call, one after another: `POST /api/agents/{id}/spawn`, a real rtc client
joins with the token, and the clock stops when the agent participant is visible to it. Then the
caller leaves and the call ends (GRACE_PERIOD_S=1) before the next.

Parts, from the POST (wall-clock timestamps of this process and the workers' JSON logs on one
machine): `api` the POST's response; `request` the worker's "received job request"; `ready`
the platform spawner's `agent_ready` (config loaded, session built; not logged by the seed
shape); `joined` the agent visible to the human. The model is the OpenAI double (unscripted),
for both spawners alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.spawner_support import bench_agent, bench_database, live_spawner
from shared.logging import configure_logging
from tests.support.human import Human
from tests.support.livekit_server import livekit_server
from tests.support.openai import OpenAIDouble
from tests.support.platform import OPERATOR, Platform
from tests.support.processes import ServiceProcess
from voxiectl.livekit_local import free_port

NAME = "spawner-test"


def at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()


async def until(check: Any, what: str, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while not (result := check()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {within:.0f} s for {what}")
        await asyncio.sleep(0.05)
    return result


async def one_call(
    http: httpx.AsyncClient,
    platform: Platform,
    worker: ServiceProcess,
    agent_id: str,
    *,
    greeting: bool = False,
) -> dict[str, float]:
    """One call's parts (seconds since the POST); with `greeting`, until the first frame with
    sound from the agent (`greeted`, on the client's own clock) and the session's start."""
    loop = asyncio.get_running_loop()
    began, began_loop = time.time(), loop.time()
    response = await http.post(f"{platform.api}/api/agents/{agent_id}/spawn", headers=OPERATOR)
    api_done = time.time()
    response.raise_for_status()
    spawned = response.json()
    human = await Human.join(spawned["livekit_url"], spawned["token"])
    try:
        agent = await human.one_agent(within=60)
        joined = time.time()
        if greeting:
            await human.until(lambda: agent.identity in human.first_loud_at, what="the greeting")
    finally:
        await human.leave()
    room = spawned["room_name"]
    [request] = await until(lambda: worker.events("received job request", room=room), "request")
    parts = {
        "api": api_done - began,
        "request": at(request) - began,
        "joined": joined - began,
    }
    if ready := worker.events("agent_ready", room=room):
        parts["ready"] = at(ready[0]) - began
    if greeting:
        parts["greeted"] = human.first_loud_at[agent.identity] - began_loop
        if active := worker.events("lifecycle", room=room, state="active"):
            parts["session"] = at(active[0]) - began
    return parts


Call = Callable[[httpx.AsyncClient, Platform, ServiceProcess, str], Awaitable[dict[str, float]]]


async def run(
    label: str,
    platform: Platform,
    worker: ServiceProcess,
    agent_id: str,
    calls: int,
    call: Call = one_call,
) -> list[dict[str, float]]:
    """`calls` calls one after another (plus one first, to warm connections, not counted)."""
    await until(lambda: worker.events("registered worker"), f"{label} to register", 120)
    await asyncio.sleep(3)  # the idle pool finishes warming
    results = []
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(calls + 1):
            try:
                results.append(await call(http, platform, worker, agent_id))
            except (AssertionError, RuntimeError):
                print(f"--- {label} output ---\n{worker.output()[-5000:]}")
                raise
    worker.stop()
    return results[1:]  # the first call warms the backend's and the worker's connections


def report(
    label: str,
    results: list[dict[str, float]],
    parts: tuple[str, ...] = ("api", "request", "ready", "joined"),
) -> float:
    """Prints p50/p95 of the last part and the median of every part; returns the p50."""
    last = [r[parts[-1]] * 1e3 for r in results]
    q = statistics.quantiles(last, n=100, method="inclusive")
    print(f"{label:<44} p50 {q[49]:7.1f} ms  p95 {q[94]:7.1f} ms  ({len(results)} calls)")
    parts = tuple(p for p in parts if all(p in r for r in results))
    medians = "  ".join(f"{p} {statistics.median(r[p] for r in results) * 1e3:.1f}" for p in parts)
    print(f"{'  parts (median ms since the POST)':<44} {medians}")
    return q[49]


def bench_backend(platform: Platform) -> ServiceProcess:
    """The backend as the benchmarks run it: calls end 1 s after the caller left, no limits
    on spawns, no reconciler passes in the way."""
    return platform.backend(
        GRACE_PERIOD_S="1",
        GC_INTERVAL_S="3600",
        SPAWN_RATE_PER_MINUTE="10000",
        MAX_TOTAL_AGENTS="1000",
    )


async def compare(
    calls: int,
    call: Call = one_call,
    parts: tuple[str, ...] = ("api", "request", "ready", "joined"),
    *,
    answer: str | None = None,
) -> None:
    """The platform's spawner, then the seeds' shape, `calls` calls each in one run; `answer`
    is what the model says to every request (else the double's unscripted line)."""
    async with bench_database() as (dsn, store):
        agent = await bench_agent(store)
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            port = free_port()
            webhook = f"http://127.0.0.1:{port}/api/livekit/webhook"
            with livekit_server(directory / "livekit", webhook_urls=[webhook]) as lk:
                print(f"{'livekit-server start (to HTTP ready)':<44} {lk.started_in_s:.3f} s")
                model = OpenAIDouble()
                if answer is not None:
                    model.responder = lambda _: answer
                model.start()
                platform = Platform(lk, dsn, directory, port, model.env())
                try:
                    bench_backend(platform)
                    ours = platform.spawner(
                        "spawner", GRACE_PERIOD_S="1", WORKER_IDLE_PROCESSES="4"
                    )
                    p50 = report(
                        "platform spawner (thread, prewarmed)",
                        await run("the spawner", platform, ours, str(agent.id), calls, call),
                        parts,
                    )
                    # The seeds' shape writes no heartbeat: the backend is told it is live.
                    await store.worker_heartbeat(live_spawner("test"), ttl_s=3600)
                    seed = platform.start(
                        ["-m", "bench.seed_spawner", "start"],
                        "seed",
                        SPAWNER_AGENT_NAME=NAME,
                    )
                    seed_p50 = report(
                        "seed-style (process, 1 idle, load after join)",
                        await run("the seed spawner", platform, seed, str(agent.id), calls, call),
                        parts,
                    )
                    print(f"{'seed-style p50 / platform p50':<44} {seed_p50 / p50:.2f}x")
                finally:
                    platform.stop()
                    model.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    configure_logging("warning", "console")
    asyncio.run(compare(args.calls))
