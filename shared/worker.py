"""What the spawner and Voxie workers share: their entry point (`run`: settings built and checked
once, then the LiveKit Agents CLI, logging through `shared.logging` rather than its own setup),
the `AgentServer` built from those settings, and the spool replayer each replica runs in its
main process, on the process runtime's store.

Each worker keeps its own load function and prewarm (they differ for reasons given there) and
its module shaped like LiveKit's examples, with the server built from the settings rather than
at import (importing a worker module reads no environment):

    def build_server(settings: Settings) -> AgentServer:
        server = agent_server(settings, load_fnc=..., setup_fnc=prewarm)
        server.on("worker_started", ...)
        server.rtc_session(agent_name=..., on_request=...)(entrypoint)
        return server

    async def entrypoint(ctx: JobContext) -> None:
        settings = job_settings(ctx)
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import sys
from collections.abc import Callable

from livekit import api
from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, JobRequest, cli

from shared.contracts.probe import ProbeAnswer, ProbeAnswers
from shared.livekit_api import livekit_api
from shared.logging import adopt_livekit_cli_logging, configure_logging, get_logger
from shared.naming import WorkerRole
from shared.runtime import Runtime
from shared.settings import ConfigError, Settings
from shared.store import StoreError

log = get_logger(__name__)

SPOOL_REPLAY_INTERVAL_S = 15.0

# Where a job process keeps the settings it was started with (`JobProcess.userdata`).
SETTINGS_KEY = "platform.settings"

# The event loop keeps only weak references to tasks: these hold the replayers.
_replayers: set[asyncio.Task[None]] = set()

# This process's server, for `draining()`. A process executor's job process is another
# interpreter where no server runs: there it stays None (a job is not told of a drain there).
_server: AgentServer | None = None


def run(role: WorkerRole, build_server: Callable[[Settings], AgentServer]) -> None:
    """`python -m voxie|spawner …`: the settings, built once here and checked for `role`, then
    the LiveKit Agents CLI around the server built from them. Refused settings are the
    operator's to fix: said in one line, exit 2, no traceback."""
    try:
        settings = Settings()
        settings.validate_for(role.value)
    except ConfigError as exc:
        print(f"{role.value}: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    adopt_livekit_cli_logging(settings.log_level, settings.log_format)
    cli.run_app(build_server(settings))


def agent_server(
    settings: Settings,
    *,
    load_fnc: Callable[[AgentServer], float],
    setup_fnc: Callable[[JobProcess, Settings], None],
) -> AgentServer:
    """The worker's `AgentServer`: executor, idle processes, load, drain, ports and LiveKit
    credentials from the settings; `setup_fnc` is the worker's prewarm, given the settings.

    How the settings reach the job: with the process executor livekit-agents starts each job
    process from a fresh interpreter (forkserver on Linux, spawn elsewhere) and hands it the
    prewarm and the entry point pickled (`ipc.job_proc_executor.ProcStartArgs`), so functions
    travel by module path and nothing the entry point built is there. The prewarm is given as
    a `functools.partial` over these settings: pickled with it, the job process gets the very
    settings `run()` built (not a second reading of an environment that may differ), and keeps
    them in `proc.userdata` for `job_settings(ctx)`. The thread executor calls the same
    prewarm in this process."""
    global _server
    server = AgentServer(
        job_executor_type=JobExecutorType(settings.worker_executor),
        num_idle_processes=settings.worker_idle_processes,
        load_fnc=load_fnc,
        load_threshold=settings.worker_load_threshold,
        drain_timeout=settings.worker_drain_timeout_s,
        port=settings.worker_http_port,
        prometheus_port=settings.worker_prometheus_port,
        ws_url=settings.livekit_url,
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret.get_secret_value(),
        setup_fnc=functools.partial(_setup_job_process, settings, setup_fnc),
    )
    _server = server
    return server


def _setup_job_process(
    settings: Settings, prewarm: Callable[[JobProcess, Settings], None], proc: JobProcess
) -> None:
    proc.userdata[SETTINGS_KEY] = settings
    prewarm(proc, settings)


def job_settings(ctx: JobContext) -> Settings:
    """The settings the worker was started with, in whichever process or thread runs the job."""
    settings = ctx.proc.userdata.get(SETTINGS_KEY)
    if not isinstance(settings, Settings):
        raise RuntimeError("the job process was not set up by agent_server()")
    return settings


def draining() -> bool:
    """Whether this process's worker is draining (see `_server`)."""
    return _server is not None and _server.draining


def session_load(active: int, settings: Settings) -> float:
    """The load `active` calls put on a worker: WORKER_LOAD_THRESHOLD at WORKER_MAX_SESSIONS,
    in proportion below it, so a replica takes exactly WORKER_MAX_SESSIONS calls.

    livekit-agents stops offering a worker jobs once its load reaches the threshold; counted as
    active / max, a replica was full at threshold * max (12 of 16 calls at 0.7), not at the
    maximum it is configured for. A self-hosted livekit-server also stops routing jobs to
    workers whose load reaches its `agents.target_load` (0.7 unless set): keep the threshold at
    or below it (tests/e2e/test_scaling.py runs the fleet up to the bound)."""
    return settings.worker_load_threshold * min(1.0, active / settings.worker_max_sessions)


def start_spool_replayer(
    settings: Settings,
    *,
    interval_s: float = SPOOL_REPLAY_INTERVAL_S,
    runtime: Runtime | None = None,
) -> asyncio.Task[None]:
    """Replays the session records a store outage (or a past run) spooled to `SPOOL_DIR`, now
    and every `interval_s`, whether or not a job is running. Call it from `worker_started`: it
    runs as a task on the worker's main loop, so the worker's start never waits for the store.
    It uses the process runtime (`Runtime.shared`, the pool the jobs of a thread executor
    share) unless given another."""
    task = asyncio.get_running_loop().create_task(_replay_spool(settings, interval_s, runtime))
    _replayers.add(task)
    task.add_done_callback(_replayer_ended)
    return task


async def _replay_spool(settings: Settings, interval_s: float, runtime: Runtime | None) -> None:
    if runtime is None:
        try:
            runtime = await asyncio.to_thread(Runtime.shared, settings)
        except (StoreError, TimeoutError) as exc:
            log.error("spool_replayer_not_started", reason=str(exc) or type(exc).__name__)
            return
    # Cancelling this task cancels the replayer on the runtime's loop too.
    await runtime.call(runtime.recorder.run_replayer(interval_s))


def _replayer_ended(task: asyncio.Task[None]) -> None:
    _replayers.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("spool_replayer_stopped", error=repr(exc))


async def answer_probe(
    request: JobRequest, settings: Settings, *, role: WorkerRole, worker_id: str
) -> None:
    """Answers the operator doctor's probe (`shared.contracts.probe`): appends who this worker is
    to the probe room's metadata, then refuses with `terminate=False` so LiveKit asks the next
    worker of this agent name. The server waits for this answer before it asks the next one,
    so reading the metadata fresh and writing it back never loses another worker's answer.
    A failed write is logged; the refusal goes out regardless, within LIVEKIT_API_TIMEOUT_S."""
    room = request.room.name
    answer = ProbeAnswer(
        worker_id=worker_id,
        agent_name=request.agent_name,
        role=role,
        deployment=settings.platform_env,
        host=socket.gethostname(),
        pid=os.getpid(),
    )
    try:
        async with livekit_api(settings) as lkapi:
            async with asyncio.timeout(settings.livekit_api_timeout_s):
                listed = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room]))
                current = listed.rooms[0].metadata if listed.rooms else ""
                answers = ProbeAnswers.parse(current).with_answer(answer)
                await lkapi.room.update_room_metadata(
                    api.UpdateRoomMetadataRequest(room=room, metadata=answers.text())
                )
        log.info("probe_answered", room=room, job_id=request.id, deployment=answer.deployment)
    except Exception as exc:
        log.warning("probe_not_answered", room=room, job_id=request.id, error=repr(exc))
    finally:
        await request.reject(terminate=False)
