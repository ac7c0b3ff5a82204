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
import collections
import functools
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from livekit import api
from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, JobRequest, cli

from shared.contracts.probe import ProbeAnswer, ProbeAnswers
from shared.contracts.workers import WorkerBeat
from shared.livekit_api import livekit_api
from shared.logging import adopt_livekit_cli_logging, configure_logging, get_logger
from shared.naming import WorkerRole
from shared.runtime import Runtime
from shared.settings import ConfigError, Settings
from shared.store import StoreError

log = get_logger(__name__)

SPOOL_REPLAY_INTERVAL_S = 15.0

# How often a worker looks for a change worth a heartbeat at once (a call started or ended, it
# filled up or drained): the backend re-dispatches a dropped room when a place frees, so the
# news must not wait for the next interval.
HEARTBEAT_CHECK_S = 0.25
# A heartbeat lasts this many intervals: one lost write does not make a worker look dead.
HEARTBEAT_TTL_INTERVALS = 3

# Where a job process keeps the settings it was started with (`JobProcess.userdata`).
SETTINGS_KEY = "platform.settings"

# The event loop keeps only weak references to tasks: these hold the replayers and heartbeats.
_replayers: set[asyncio.Task[None]] = set()
_heartbeat_tasks: dict[int, asyncio.Task[None]] = {}

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


# The CPU share is measured over this many seconds: long enough that a call's start-up work
# (a burst of a second or so) does not flip the replica to full, short enough to follow load.
CPU_WINDOW_S = 10.0


def available_cpus(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> float:
    """The CPUs this process may run on: its affinity (taskset), capped by a cgroup v2 quota
    (a container's CPU limit) when one is set."""
    cpus = float(len(os.sched_getaffinity(0)))
    try:
        quota, period = cgroup_cpu_max.read_text(encoding="utf-8").split()[:2]
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    except (OSError, ValueError):
        pass  # no cgroup v2 file (or an unexpected one): the affinity alone
    return max(cpus, 0.01)


def replica_cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds used by `process` and its job processes: live children now, and those it
    already reaped (psutil's children_* times), so a finished job's work is not lost."""
    times = process.cpu_times()
    used = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.Error:
            continue  # ended while we looked: reaped, its time is in children_* next time
        used += child_times.user + child_times.system
    return used


class ReplicaCpu:
    """The share of its CPUs this replica itself used over the last CPU_WINDOW_S: the CPU term
    of the spawner's load (WORKER_LOAD_CPU). Never the machine's CPU (psutil.cpu_percent,
    livekit-agents' default): on a shared box a busy neighbour made a replica refuse calls."""

    def __init__(
        self,
        *,
        used: Callable[[], float] | None = None,
        cpus: float | None = None,
        window_s: float = CPU_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        process = psutil.Process()
        self._used = used or (lambda: replica_cpu_seconds(process))
        self._cpus = cpus if cpus is not None else available_cpus()
        self._window_s = window_s
        self._clock = clock
        self._samples: collections.deque[tuple[float, float]] = collections.deque()
        self._lock = threading.Lock()

    def share(self) -> float:
        """0 for an idle replica, 1 when it kept all its CPUs busy; 0 on the first reading."""
        # livekit-agents reads the load on an executor thread, the heartbeat on the loop.
        with self._lock:
            now, used = self._clock(), self._used()
            self._samples.append((now, used))
            # Keep the newest sample at least a window old as the baseline.
            while len(self._samples) > 2 and now - self._samples[1][0] >= self._window_s:
                self._samples.popleft()
            then, used_then = self._samples[0]
        if now <= then:
            return 0.0
        return min(1.0, max(0.0, (used - used_then) / (now - then) / self._cpus))


def start_heartbeat(
    server: AgentServer,
    settings: Settings,
    *,
    role: WorkerRole,
    load_fnc: Callable[[AgentServer], float],
    runtime: Runtime | None = None,
) -> asyncio.Task[None]:
    """Writes this worker's heartbeat (`shared.contracts.workers`) now, at once on every change
    of its sessions or availability, and every WORKER_HEARTBEAT_INTERVAL_S; its row is removed
    when the task is cancelled. Call it from `worker_registered` (the row is keyed by the id
    LiveKit gave the worker; a re-registration under a new id replaces the old row). Store
    failures are logged and retried on the next check: the worker keeps serving calls."""
    running = _heartbeat_tasks.get(id(server))
    if running is not None and not running.done():
        return running  # it follows the server's current id itself
    task = asyncio.get_running_loop().create_task(
        _heartbeats(server, settings, role, load_fnc, runtime)
    )
    _heartbeat_tasks[id(server)] = task
    task.add_done_callback(lambda _: _heartbeat_tasks.pop(id(server), None))
    return task


def heartbeat_of(
    server: AgentServer,
    settings: Settings,
    role: WorkerRole,
    load_fnc: Callable[[AgentServer], float],
) -> WorkerBeat:
    """What the worker says of itself now; `available` is livekit-agents' own rule (below the
    load threshold and not draining), which livekit-server follows when it picks a worker."""
    draining = server.draining
    return WorkerBeat(
        worker_id=server.id,
        agent_name=settings.worker_agent_name(role),
        role=role,
        deployment=settings.platform_env,
        active_sessions=len(server.active_jobs),
        max_sessions=settings.worker_max_sessions,
        available=not draining and load_fnc(server) < settings.worker_load_threshold,
        draining=draining,
    )


async def _heartbeats(
    server: AgentServer,
    settings: Settings,
    role: WorkerRole,
    load_fnc: Callable[[AgentServer], float],
    runtime: Runtime | None,
) -> None:
    runtime = runtime or await _process_runtime(settings, "heartbeat_not_started")
    if runtime is None:
        return
    store = runtime.store
    interval = settings.worker_heartbeat_interval_s
    ttl_s = interval * HEARTBEAT_TTL_INTERVALS
    written: WorkerBeat | None = None
    written_at = 0.0
    try:
        while True:
            try:
                beat = heartbeat_of(server, settings, role, load_fnc)
            except Exception as exc:  # a load that cannot be read now: try again, stay alive
                log.warning("heartbeat_not_measured", error=repr(exc))
                await asyncio.sleep(HEARTBEAT_CHECK_S)
                continue
            now = time.monotonic()
            if beat != written or now - written_at >= interval:
                if beat.available and written is not None and not written.available:
                    await _status_to_livekit_now(server)  # before the backend hears of it
                try:
                    if written is not None and written.worker_id != beat.worker_id:
                        await runtime.call(store.worker_gone(written.worker_id))
                    await runtime.call(store.worker_heartbeat(beat, ttl_s=ttl_s))
                except StoreError as exc:
                    log.warning("heartbeat_not_written", worker_id=beat.worker_id, error=str(exc))
                else:
                    if written is None or written.available != beat.available:
                        log.info(
                            "heartbeat",
                            worker_id=beat.worker_id,
                            agent_name=beat.agent_name,
                            available=beat.available,
                            active_sessions=beat.active_sessions,
                        )
                    written, written_at = beat, now
            await asyncio.sleep(HEARTBEAT_CHECK_S)
    finally:
        if written is not None:
            await _gone(runtime, written.worker_id)


async def _status_to_livekit_now(server: AgentServer) -> None:
    """A place freed: tell livekit-server now. livekit-agents sends its status every 2.5 s
    (`UPDATE_STATUS_INTERVAL`), and until then the server refuses this worker jobs, the
    reconciler's re-dispatch of a refused room included. Private methods of livekit-agents 1.8
    (there is no public one); without them the next interval still says it."""
    refresh = getattr(server, "_refresh_worker_load", None)
    update = getattr(server, "_update_worker_status", None)
    if refresh is None or update is None:
        return
    try:
        await refresh()
        await update()
    except Exception as exc:  # the SDK's own loop reports the status again within 2.5 s
        log.warning("worker_status_not_sent", error=repr(exc))


async def _gone(runtime: Runtime, worker_id: str) -> None:
    # Best effort within the store's deadline: an expired heartbeat says the same a little later.
    try:
        await runtime.call(runtime.store.worker_gone(worker_id))
    except (StoreError, RuntimeError) as exc:
        log.warning("heartbeat_not_removed", worker_id=worker_id, error=str(exc))


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


async def _process_runtime(settings: Settings, failed_event: str) -> Runtime | None:
    """The process runtime (`Runtime.shared`), or None, logged as `failed_event`, when its store
    cannot be opened: a worker serves calls without its background tasks then."""
    try:
        return await asyncio.to_thread(Runtime.shared, settings)
    except (StoreError, TimeoutError) as exc:
        log.error(failed_event, reason=str(exc) or type(exc).__name__)
        return None


async def _replay_spool(settings: Settings, interval_s: float, runtime: Runtime | None) -> None:
    runtime = runtime or await _process_runtime(settings, "spool_replayer_not_started")
    if runtime is None:
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
