"""Calls spread over spawner replicas: `python -m bench.scaling [--replicas 3] [--calls 30]
[--max-sessions 11] [--at-once 2]`.

Real processes on this machine: a local livekit-server, `python -m backend`, R replicas of
`python -m spawner start` (thread executor; the load counts sessions only, so
WORKER_MAX_SESSIONS is each replica's bound), the OpenAI double answering at once. Calls are
opened `at_once` at a time through `POST /api/agents/{id}/spawn`, each joined by a silent rtc
client (it neither speaks nor takes the agent's audio), and all stay open until the last is
in, so a replica's count is its peak.

Figures: calls per replica (its `job_accepted` records, checked against its own `/worker`
health page), time from the spawn request to the agent active as the client sees it (p50,
p95, max), and the wall time to open them all. LiveKit picks among the replicas at random,
weighted by their free capacity, so the spread differs from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.spawn_join import bench_backend
from bench.spawner_support import bench_agent, bench_database
from shared.logging import configure_logging
from tests.e2e.support import OpenCall, healthy, open_calls, registered
from tests.support.livekit_server import livekit_server
from tests.support.openai import OpenAIDouble
from tests.support.platform import Platform
from voxiectl.livekit_local import free_port


async def run(replicas: int, calls: int, max_sessions: int, at_once: int) -> None:
    async with bench_database() as (dsn, store):
        agent = await bench_agent(store)
        with tempfile.TemporaryDirectory() as tmp, OpenAIDouble() as model:
            directory = Path(tmp)
            port = free_port()
            webhook = f"http://127.0.0.1:{port}/api/livekit/webhook"
            with livekit_server(directory / "livekit", webhook_urls=[webhook]) as lk:
                platform = Platform(lk, dsn, directory, port, model.env())
                opened: list[OpenCall] = []
                try:
                    backend = bench_backend(platform)
                    health = {f"spawner-{n}": free_port() for n in range(1, replicas + 1)}
                    fleet = [
                        platform.spawner(
                            label,
                            GRACE_PERIOD_S="8",
                            WORKER_MAX_SESSIONS=str(max_sessions),
                            WORKER_HTTP_PORT=str(health_port),
                        )
                        for label, health_port in health.items()
                    ]
                    async with httpx.AsyncClient(timeout=30) as http:
                        await healthy(http, platform.api, backend)
                        await registered(*fleet)
                        began = time.monotonic()
                        await open_calls(
                            http, platform.api, agent.id, calls, into=opened, at_once=at_once
                        )
                        wall = time.monotonic() - began
                        active = {
                            label: (await http.get(f"http://127.0.0.1:{p}/worker")).json()
                            for label, p in health.items()
                        }
                    spread = {
                        p.label: sum(bool(p.events("job_accepted", room=c.room)) for c in opened)
                        for p in fleet
                    }
                    times = sorted(c.opened_s for c in opened)
                    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
                    print(f"replicas {replicas}, calls {calls}, WORKER_MAX_SESSIONS {max_sessions}")
                    for label, taken in spread.items():
                        jobs = int(active[label].get("active_jobs", 0))
                        print(f"  {label}: {taken} calls ({jobs} active jobs by its /worker)")
                    print(
                        f"spawn -> agent active: p50 {statistics.median(times):.2f} s, "
                        f"p95 {p95:.2f} s, max {times[-1]:.2f} s; "
                        f"all {calls} open in {wall:.1f} s ({at_once} at a time)"
                    )
                finally:
                    for call in opened:
                        await call.human.leave()
                    platform.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--max-sessions", type=int, default=11)
    parser.add_argument("--at-once", type=int, default=2)
    args = parser.parse_args()
    configure_logging("warning", "console")
    asyncio.run(run(args.replicas, args.calls, args.max_sessions, args.at_once))
