"""Concurrent calls on one spawner replica: `python -m bench.calls_per_replica [--steps 1,2,4,8]
[--window 20]`.

Real processes on this machine: a local livekit-server, `python -m backend`, one
`python -m spawner start` (thread executor: every call in one process), and the OpenAI double in
its own process streaming its answers' audio in real time (`audio_pace` 1). For each step N, N
calls are opened (spawn, a real rtc client joins and hears the greeting), then every caller
talks without pause for the window: a sentence from an espeak-ng WAV into a microphone track
that sends silence between sentences, the double's VAD takes the turn, the agent plays the
answer (about 3 s of speech), the caller speaks again once the agent listens.

Figures per step, over the window: the spawner process's CPU (cores, from /proc utime+stime)
and RSS, both also per call above the idle replica; the answer delay at the callers (end of the
caller's sentence → the first frame with sound of the answer: the double's 500 ms of silence to
end a turn included), p50/p95; and the turns that got no answer in time. The N where the p95
delay grows past twice the one-call p95, or answers go missing, is where the replica is full.

Said plainly: the humans, the double, the LiveKit server and the spawner share this machine's 2
cores with everything else running on it, so the N found is a floor for a dedicated replica.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from livekit import rtc

from bench.spawn_join import bench_backend
from bench.spawner_support import bench_agent, bench_database
from shared.logging import configure_logging
from tests.support.human import Human, speech_wav
from tests.support.livekit_server import livekit_server
from tests.support.openai import OpenAIDouble
from tests.support.platform import OPERATOR, Platform
from voxiectl.livekit_local import free_port

ANSWER = "Sure. A cleaning costs ninety dollars and takes about half an hour."
ASK = "How much is a cleaning?"
ANSWER_DEADLINE_S = 10.0
TICKS = os.sysconf("SC_CLK_TCK")


def serve_double(port: int, ready: Any) -> None:
    """The double in its own process: the callers' process stays the callers'."""
    with OpenAIDouble(audio_pace=1.0, port=port) as double:
        double.responder = lambda _: ANSWER
        ready.set()
        while True:
            time.sleep(3600)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Caller:
    human: Human
    agent: rtc.RemoteParticipant
    delays: list[float] = field(default_factory=list)
    missed: int = 0

    async def talk(self, wav: Path, until: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            await self.human.until(
                lambda: self.agent.attributes.get("lk.agent.state") == "listening",
                what="the agent to listen",
                within=ANSWER_DEADLINE_S * 3,
            )
            await self.human.speak(wav)
            spoke, before = loop.time(), self.human.heard(self.agent.identity)
            while self.human.heard(self.agent.identity) <= before:
                if loop.time() - spoke > ANSWER_DEADLINE_S:
                    self.missed += 1
                    break
                await asyncio.sleep(0.01)
            else:
                self.delays.append(loop.time() - spoke)


async def open_call(http: httpx.AsyncClient, platform: Platform, agent_id: str) -> Caller:
    response = await http.post(f"{platform.api}/api/agents/{agent_id}/spawn", headers=OPERATOR)
    response.raise_for_status()
    spawned = response.json()
    human = await Human.join(spawned["livekit_url"], spawned["token"])
    agent = await human.one_agent(within=60)
    await human.until(lambda: human.heard(agent.identity) > 0, what="the greeting", within=60)
    return Caller(human, agent)


async def step(
    n: int, platform: Platform, pid: int, agent_id: str, wav: Path, window: float
) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=30) as http:
        callers = [await open_call(http, platform, agent_id) for _ in range(n)]
    try:
        loop = asyncio.get_running_loop()
        cpu0, t0 = cpu_seconds(pid), loop.time()
        await asyncio.gather(*(c.talk(wav, t0 + window) for c in callers))
        cores = (cpu_seconds(pid) - cpu0) / (loop.time() - t0)
        rss = rss_mb(pid)
    finally:
        for caller in callers:
            await caller.human.leave()
    delays = [d for c in callers for d in c.delays]
    q = statistics.quantiles(delays, n=20, method="inclusive") if len(delays) > 1 else delays * 19
    return {
        "cores": cores,
        "rss": rss,
        "p50": statistics.median(delays) if delays else float("nan"),
        "p95": q[18] if delays else float("nan"),
        "turns": len(delays),
        "missed": sum(c.missed for c in callers),
    }


async def main(steps: list[int], window: float) -> None:
    ctx = multiprocessing.get_context("spawn")
    double_port = free_port()
    ready = ctx.Event()
    double = ctx.Process(target=serve_double, args=(double_port, ready), daemon=True)
    double.start()
    ready.wait(60)
    model_env = {"OPENAI_API_KEY": "EMPTY", "OPENAI_BASE_URL": f"http://127.0.0.1:{double_port}/v1"}
    try:
        async with bench_database() as (dsn, store):
            agent = await bench_agent(store)
            with tempfile.TemporaryDirectory() as tmp:
                directory = Path(tmp)
                wav = speech_wav(directory / "ask.wav", ASK)
                port = free_port()
                webhook = f"http://127.0.0.1:{port}/api/livekit/webhook"
                with livekit_server(directory / "livekit", webhook_urls=[webhook]) as lk:
                    platform = Platform(lk, dsn, directory, port, model_env)
                    try:
                        bench_backend(platform)
                        spawner = platform.spawner(
                            GRACE_PERIOD_S="1",
                            WORKER_MAX_SESSIONS="1000",
                            WORKER_IDLE_PROCESSES="4",
                            LOG_LEVEL="warning",
                        )
                        await report(platform, spawner.pid, str(agent.id), wav, steps, window)
                    finally:
                        platform.stop()
    finally:
        double.terminate()


async def report(
    platform: Platform, pid: int, agent_id: str, wav: Path, steps: list[int], window: float
) -> None:
    await asyncio.sleep(5)  # registered and warmed
    loop = asyncio.get_running_loop()
    cpu0, t0 = cpu_seconds(pid), loop.time()
    await asyncio.sleep(window / 2)
    idle_cores, idle_rss = (cpu_seconds(pid) - cpu0) / (loop.time() - t0), rss_mb(pid)
    print(f"idle replica: {idle_cores:.3f} cores, {idle_rss:.0f} MB RSS")
    print(
        f"{'calls':>5} {'cores':>7} {'RSS MB':>7} {'cores/call':>10} {'MB/call':>8} "
        f"{'answer p50':>10} {'p95':>7} {'turns':>6} {'missed':>6}"
    )
    for n in steps:
        figures = await step(n, platform, pid, agent_id, wav, window)
        per_core = (figures["cores"] - idle_cores) / n
        per_mb = (figures["rss"] - idle_rss) / n
        print(
            f"{n:>5} {figures['cores']:>7.3f} {figures['rss']:>7.0f} {per_core:>10.3f} "
            f"{per_mb:>8.1f} {figures['p50'] * 1e3:>8.0f}ms {figures['p95'] * 1e3:>5.0f}ms "
            f"{figures['turns']:>6.0f} {figures['missed']:>6.0f}",
            flush=True,
        )
        await asyncio.sleep(3)  # the calls end (grace 1 s) before the next step


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1,2,4,8,12")
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    configure_logging("warning", "console")
    asyncio.run(main([int(n) for n in args.steps.split(",")], args.window))
