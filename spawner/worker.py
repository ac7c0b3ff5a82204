"""The spawner worker, shaped like LiveKit's examples: the server, a prewarm, one entry point.

    python -m spawner start|dev|console

The server is built from the settings the entry point built (`build_server`, called by
`shared.worker.run`); importing this module reads no environment.

Registers as `spawner-{PLATFORM_ENV}` (explicit dispatch only) and takes only the jobs the shared
routing rule gives it (`shared.routing`): `agent-{agent_id}-*` rooms of its own deployment while
it has capacity. Each accepted job runs one `spawner.call.SpawnedCall` (the call skeleton,
`shared.call`, with the spawner's agent).
"""

from __future__ import annotations

from livekit.agents import AgentServer, JobContext, JobProcess, JobRequest

from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from shared.logging import bind_log_context, get_logger
from shared.naming import WorkerRole
from shared.routing import JobOffer, Verdict, route
from shared.runtime import Runtime
from shared.settings import Settings
from shared.worker import (
    ReplicaCpu,
    agent_server,
    answer_probe,
    draining,
    job_settings,
    session_load,
    start_heartbeat,
    start_spool_replayer,
)
from spawner import metrics
from spawner.call import SpawnedCall, job_decision
from spawner.loader import process_loader
from spawner.tools import tls_context

log = get_logger(__name__)


def build_server(settings: Settings) -> AgentServer:
    """The spawner's `AgentServer` for `settings` (built once, by `shared.worker.run`)."""
    agent_name = settings.worker_agent_name(WorkerRole.SPAWNER)
    cpu = ReplicaCpu() if settings.worker_load_cpu else None

    def load(server: AgentServer) -> float:
        return current_load(server, settings, cpu)

    server = agent_server(settings, load_fnc=load, setup_fnc=prewarm)

    @server.on("worker_started")
    def _on_started() -> None:
        # Each replica replays the session records an outage (or a previous run) left behind.
        start_spool_replayer(settings)
        log.info("spawner_started", agent_name=agent_name, executor=settings.worker_executor)

    @server.on("worker_registered")
    def _on_registered(worker_id: str, _server_info: object) -> None:
        # The backend counts this replica (and re-dispatches rooms it missed) from its heartbeat.
        start_heartbeat(server, settings, role=WorkerRole.SPAWNER, load_fnc=load)

    async def on_request(request: JobRequest) -> None:
        await answer(request, server, settings)

    server.rtc_session(agent_name=agent_name, on_request=on_request)(entrypoint)
    return server


def current_load(server: AgentServer, settings: Settings, cpu: ReplicaCpu | None = None) -> float:
    """Sessions against the configured maximum, or (WORKER_LOAD_CPU: `cpu`) this replica's own
    CPU, whichever is fuller. Unlike Voxie (sessions only), a call can do audio work here (noise
    cancellation, a pipeline's plugins)."""
    sessions = session_load(len(server.active_jobs), settings)
    return min(1.0, max(sessions, cpu.share() if cpu is not None else 0.0))


def prewarm(proc: JobProcess, settings: Settings) -> None:
    # Idle job processes (or threads) open the store and build the TLS context before a job
    # arrives (Voxie has neither to warm: its prewarm only sets up logging).
    process_loader(Runtime.shared(settings))
    tls_context()


async def answer(request: JobRequest, server: AgentServer, settings: Settings) -> None:
    """The request handler: the shared routing rule, then accept or refuse."""
    at_capacity = len(server.active_jobs) >= settings.worker_max_sessions
    decision = route(
        JobOffer.from_request(request),
        role=WorkerRole.SPAWNER,
        deployment=settings.platform_env,
        at_capacity=at_capacity,
    )
    metrics.JOBS.labels(verdict=decision.verdict).inc()
    if decision.verdict is Verdict.PROBE:
        await answer_probe(request, settings, role=WorkerRole.SPAWNER, worker_id=server.id)
        return
    with bind_log_context(room=request.room.name, job_id=request.id, agent_id=decision.agent_id):
        if not decision.accepted:
            log.info("job_rejected", verdict=decision.verdict, terminate=decision.terminate)
            await request.reject(terminate=decision.terminate)
            return
        lifecycle = AgentLifecycle(
            state=LifecycleState.EMPTY,
            agent_id=decision.agent_id,
            deployment=settings.platform_env,
        )
        await request.accept(
            identity=f"agent-{request.id}", name="Agent", attributes=lifecycle.to_attributes()
        )
        log.info("job_accepted")


async def entrypoint(ctx: JobContext) -> None:
    # Module level: a process executor's job process finds it by this module's path.
    settings = job_settings(ctx)
    decision = job_decision(ctx, settings)
    with bind_log_context(room=ctx.job.room.name, job_id=ctx.job.id, agent_id=decision.agent_id):
        if not decision.accepted or decision.agent_id is None:
            # The request handler already refused such jobs; a job here is a bug upstream.
            log.error("job_not_runnable", verdict=decision.verdict, reason=decision.reason)
            ctx.shutdown("not runnable")
            return
        call = await SpawnedCall.for_job(
            ctx,
            settings,
            decision.metadata,
            agent_id=decision.agent_id,
            draining=draining,
        )
        await call.run()
