"""The seeds' spawner shape, for `bench.spawn_join` to compare against: `python -m
bench.seed_spawner start` (LIVEKIT_*, DATABASE_URL and SPAWNER_AGENT_NAME from the environment).

As the seed notes wrote it: one idle process and the process executor (LiveKit's defaults they
kept), the room joined first (`ctx.connect()`), then the agent's config loaded from the database
over a new connection, then the session built and started, and the greeting asked of the
realtime model (`generate_reply(instructions="Say: …")`). The model is the OpenAI double, as
for the platform's spawner in the same run. (Its logs are the
platform's JSON lines only so that the benchmark can read LiveKit's events.)
"""

from __future__ import annotations

import asyncio
import json
import os

import asyncpg
from livekit import rtc
from livekit.agents import Agent, AgentServer, AgentSession, JobContext, JobExecutorType, cli
from livekit.plugins import openai

from shared.logging import configure_logging

server = AgentServer(
    job_executor_type=JobExecutorType.PROCESS,
    num_idle_processes=1,
    # The one change from the seeds: LiveKit's default load is the machine's CPU, and on this
    # shared 2-core machine it marks the worker unavailable under the benchmark's own load; the
    # platform's spawner in the same run counts sessions only (WORKER_LOAD_CPU=false), so here too.
    load_fnc=lambda _: 0.0,
    port=0,
    ws_url=os.environ["LIVEKIT_URL"],
    api_key=os.environ["LIVEKIT_API_KEY"],
    api_secret=os.environ["LIVEKIT_API_SECRET"],
)


@server.rtc_session(agent_name=os.environ["SPAWNER_AGENT_NAME"])
async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    agent_id = json.loads(ctx.room.metadata or "{}").get("agent_id")
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        row = await conn.fetchrow("select * from agents where id = $1", agent_id)
    finally:
        await conn.close()
    if row is None:
        return
    session: AgentSession[None] = AgentSession(
        llm=openai.realtime.RealtimeModel(voice=row["voice"] or "marin")
    )
    await session.start(room=ctx.room, agent=Agent(instructions=row["instructions"]))
    if row["greeting"]:
        # The seeds' greeting: the realtime model asked to say it.
        session.generate_reply(instructions=f"Say: {row['greeting']}")
    left = asyncio.Event()

    def gone(_: rtc.RemoteParticipant) -> None:
        left.set()

    ctx.room.on("participant_disconnected", gone)
    await left.wait()
    await session.aclose()
    ctx.shutdown("caller left")


if __name__ == "__main__":
    # Only so that the benchmark reads LiveKit's log lines as JSON events, as for ours.
    configure_logging("info", "json")
    cli.run_app(server)
