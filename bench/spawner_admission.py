"""Spawner admission: `python -m bench.spawner_admission [--jobs 250] [--executor thread]`.

A real `python -m spawner start` (prewarmed pool, `--executor` thread or process) against the
LiveKit double and a local PostgreSQL takes `--jobs` dispatches of one stored agent, one after
another; each job ends before the next is dispatched, so every job finds a warm executor. For
each job the worker logs `agent_ready` with the time from the assignment's arrival
(`RunningJobInfo.assigned_at`) to the agent being ready: job launched on a warm executor,
participants listed (duplicate-agent check), config loaded, session row written, Agent and
AgentSession built. The WebRTC connect that follows is excluded (the double has no SFU, so each
job then ends at once). Prints p50/p95/p99 of those figures and the first (cold) job's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from pathlib import Path

from bench.spawner_support import bench_agent, bench_database, spawner_env
from shared.logging import configure_logging
from shared.naming import agent_room_name
from tests.spawner.conftest import create_agent_room, ended
from tests.support.livekit import LiveKitDouble
from tests.support.processes import ServiceProcess

NAME = "spawner-test"


STEPS = ("listed_ms", "loaded_ms", "recorded_ms", "job_ms")


def admissions(process: ServiceProcess) -> list[dict[str, float]]:
    """The `agent_ready` events the worker logged so far."""
    return [
        json.loads(line)
        for line in process.output().splitlines()
        if line.startswith("{") and '"agent_ready"' in line
    ]


async def main(jobs: int, executor: str) -> None:
    async with bench_database() as (dsn, store):
        agent = await bench_agent(store)
        with LiveKitDouble() as livekit, tempfile.TemporaryDirectory() as tmp:
            env = spawner_env(livekit, dsn, Path(tmp), executor=executor, idle=4)
            process = ServiceProcess(["-m", "spawner", "start"], Path(tmp), label="s", env=env)
            try:
                await livekit.wait_for_workers(1, NAME, within=60)
                await asyncio.sleep(2)  # the idle pool finishes warming
                async with livekit.api() as client:
                    for index in range(jobs):
                        room = await create_agent_room(
                            client, NAME, agent.id, name=agent_room_name(agent.id)
                        )
                        # One call at a time on a warm pool: wait for this job to end.
                        await ended(livekit, room)
                        if len(admissions(process)) <= index:
                            raise RuntimeError(f"job {index} ended without agent_ready")
            finally:
                process.stop()
            events = admissions(process)
    warm = [e["admission_ms"] for e in events[1:]]
    q = statistics.quantiles(warm, n=100, method="inclusive")
    print(f"spawner admission ({executor} executor), {len(warm)} warm jobs + 1 cold")
    print(
        f"{'assignment -> agent ready':<34} p50 {q[49]:7.2f} ms  p95 {q[94]:7.2f} ms  "
        f"p99 {q[98]:7.2f} ms  first (cold) {events[0]['admission_ms']:7.2f} ms"
    )
    # Medians of the steps inside the job, in ms since the entry point started.
    steps = {step: statistics.median(e[step] for e in events[1:]) for step in STEPS}
    print(
        f"{'  in the job (median, cumulative)':<34} "
        + "  ".join(f"{k.removesuffix('_ms')} {v:.2f}" for k, v in steps.items())
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=250)
    parser.add_argument("--executor", choices=["thread", "process"], default="thread")
    args = parser.parse_args()
    configure_logging("warning", "console")
    asyncio.run(main(args.jobs + 1, args.executor))
