"""A real livekit-agents worker for the double's own tests; room names decide what it does.

    python -m tests.support.livekit.agent_worker start

Environment: the LiveKit variables from `LiveKitDouble.env()`, plus `TEST_AGENT_NAME` (the
agent name it registers), `TEST_WORKER_LABEL` (names it in the log), `TEST_WORKER_LOG` (a JSON
Lines file it appends what happened to), and optionally `TEST_WORKER_LOAD` (the load it
reports) and `TEST_ACCEPT_ALL` (accept every job, whatever the room's name).

Room name prefixes decide the answer otherwise:
- `accept-…`   accept, record the assignment, run until the job is shut down;
- `done-…`     accept, record, end the job at once (`ctx.shutdown`);
- `reject-…`   `reject(terminate=True)`;
- `pass-…`     `reject(terminate=False)`;
- `silent-…`   give no answer (the SDK then passes it on, as `terminate=False`).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from livekit.agents import AgentServer, JobContext, JobExecutorType, JobRequest, cli

_LOCK = threading.Lock()


def record(event: str, **fields: Any) -> None:
    line = json.dumps({"worker": os.environ["TEST_WORKER_LABEL"], "event": event, **fields})
    with _LOCK, open(os.environ["TEST_WORKER_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")


def _fixed_load() -> float:
    return float(os.environ["TEST_WORKER_LOAD"])


server = AgentServer(
    job_executor_type=JobExecutorType.THREAD,
    num_idle_processes=0,
    port=0,
    load_threshold=float("inf"),
    load_fnc=_fixed_load if os.environ.get("TEST_WORKER_LOAD") else None,
    shutdown_process_timeout=5.0,
    drain_timeout=5,
)


async def on_request(request: JobRequest) -> None:
    room = request.room.name
    record("request", room=room, job_id=request.id, agent_name=request.agent_name)
    if os.environ.get("TEST_ACCEPT_ALL"):
        await request.accept(identity=f"agent-{room}", name="Test Agent")
    elif room.startswith("reject-"):
        await request.reject(terminate=True)
    elif room.startswith("pass-"):
        await request.reject(terminate=False)
    elif room.startswith("silent-"):
        return
    else:
        await request.accept(identity=f"agent-{room}", name="Test Agent")


@server.rtc_session(agent_name=os.environ.get("TEST_AGENT_NAME", ""), on_request=on_request)
async def entrypoint(ctx: JobContext) -> None:
    room = ctx.job.room.name
    claims = ctx.token_claims()
    record(
        "assigned",
        room=room,
        job_id=ctx.job.id,
        identity=claims.identity,
        token_room=claims.video.room if claims.video else None,
        room_join=bool(claims.video and claims.video.room_join),
        kind=claims.kind,
        attributes=claims.attributes,
        metadata=ctx.job.metadata,
    )

    async def on_shutdown(reason: str) -> None:
        record("shutdown", room=room, job_id=ctx.job.id, reason=reason)

    ctx.add_shutdown_callback(on_shutdown)
    if room.startswith("done-"):
        ctx.shutdown("done")


if __name__ == "__main__":
    cli.run_app(server)
