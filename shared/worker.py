"""What the spawner and Voxie workers share: the `AgentServer` built from `Settings`, and the
spool replayer each replica runs in its main process, on the process runtime's store.

Each worker keeps its own load function and prewarm (they differ for reasons given there) and
its module shaped like LiveKit's examples:

    server = agent_server(settings, load_fnc=current_load, setup_fnc=prewarm)

    @server.on("worker_started")
    def _on_started() -> None:
        start_spool_replayer(settings)
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

from livekit import api
from livekit.agents import AgentServer, JobExecutorType, JobProcess, JobRequest

from shared.contracts.probe import ProbeAnswer, ProbeAnswers
from shared.logging import get_logger
from shared.naming import WorkerRole
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store import StoreError

log = get_logger(__name__)

SPOOL_REPLAY_INTERVAL_S = 15.0

# The event loop keeps only weak references to tasks: these hold the replayers.
_replayers: set[asyncio.Task[None]] = set()


def agent_server(
    settings: Settings,
    *,
    load_fnc: Callable[[AgentServer], float],
    setup_fnc: Callable[[JobProcess], None],
) -> AgentServer:
    """The worker's `AgentServer`: executor, idle processes, load, drain, ports and LiveKit
    credentials from the settings."""
    return AgentServer(
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
        setup_fnc=setup_fnc,
    )


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
        async with api.LiveKitAPI(
            settings.livekit_url,
            settings.livekit_api_key,
            settings.livekit_api_secret.get_secret_value(),
        ) as lkapi:
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
