"""Spawn → the greeting heard, on a real LiveKit server: `python -m bench.time_to_greeting
[--calls 50]`.

The same real processes as `bench.spawn_join` (a local livekit-server, `python -m backend`, one
spawner worker: first the platform's, then the seeds' shape `bench.seed_spawner`, in the same
run), with the model served by the OpenAI double answering at once (every response is the
greeting, its audio synthesised once and cached), so the figure is the platform's own overhead.
For each call, one after another: `POST /api/agents/{id}/spawn`, a real rtc client joins with
the token, and the clock stops at the first frame with sound from the agent's track. Then the
caller leaves and the call ends (GRACE_PERIOD_S=1) before the next.

Parts, from the POST (wall clock of this process and the workers' JSON logs on one machine, the
last from the client's own clock): `api` the POST's response; `request` the worker's "received
job request" (the dispatch); `ready` the platform spawner's `agent_ready` (config loaded,
session built); `joined` the agent visible to the human (connected); `session` the platform
spawner's lifecycle `active` (the session started, the greeting asked for); `greeted` the
first frame with sound at the human. The seeds' shape logs neither `ready` nor `session`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools

from bench.spawn_join import compare, one_call
from shared.logging import configure_logging
from tests.spawner.conftest import new_agent

PARTS = ("api", "request", "ready", "joined", "session", "greeted")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    configure_logging("warning", "console")
    # The bench agent's greeting (tests.spawner.conftest.new_agent), said at every request.
    greeted = functools.partial(one_call, greeting=True)
    asyncio.run(compare(args.calls, greeted, PARTS, answer=new_agent().greeting))
