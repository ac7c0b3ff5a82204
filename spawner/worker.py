"""The spawner worker, shaped like LiveKit's examples: `server`, a prewarm, one entry point.

    python -m spawner start|dev|console

Registers as `spawner-{PLATFORM_ENV}` (explicit dispatch only) and takes only the jobs the shared
routing rule gives it (`shared.routing`): `agent-{agent_id}-*` rooms of its own deployment while
it has capacity. Each accepted job runs one `spawner.call.Call`.
"""

from __future__ import annotations

import psutil
from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, JobRequest

from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from shared.logging import bind_log_context, configure_logging, get_logger
from shared.naming import WorkerRole, worker_agent_name
from shared.routing import JobOffer, route
from shared.settings import Settings
from spawner import metrics
from spawner.call import Call
from spawner.runtime import Runtime
from spawner.tools import tls_context

log = get_logger(__name__)

settings = Settings()
settings.validate_for("spawner")
configure_logging(settings.log_level, settings.log_format)
AGENT_NAME = worker_agent_name(WorkerRole.SPAWNER, settings)


def current_load(server: AgentServer) -> float:
    """Sessions against the configured maximum, or the CPU, whichever is fuller."""
    sessions = len(server.active_jobs) / settings.worker_max_sessions
    cpu = psutil.cpu_percent(interval=None) / 100 if settings.worker_load_cpu else 0.0
    return min(1.0, max(sessions, cpu))


def prewarm(proc: JobProcess) -> None:
    # Idle job processes (or threads) open the store and build the TLS context before a job
    # arrives.
    Runtime.shared(settings)
    tls_context()


server = AgentServer(
    job_executor_type=JobExecutorType(settings.worker_executor),
    num_idle_processes=settings.worker_idle_processes,
    load_fnc=current_load,
    load_threshold=settings.worker_load_threshold,
    drain_timeout=settings.worker_drain_timeout_s,
    port=settings.worker_http_port,
    prometheus_port=settings.worker_prometheus_port,
    ws_url=settings.livekit_url,
    api_key=settings.livekit_api_key,
    api_secret=settings.livekit_api_secret.get_secret_value(),
    setup_fnc=prewarm,
)


@server.on("worker_started")
def _on_started() -> None:
    configure_logging(settings.log_level, settings.log_format)  # after the CLI's own setup
    # One replica replays the session records an outage (or a previous run) left behind.
    Runtime.shared(settings).start_replayer()
    log.info("spawner_started", agent_name=AGENT_NAME, executor=settings.worker_executor)


async def on_request(request: JobRequest) -> None:
    at_capacity = len(server.active_jobs) >= settings.worker_max_sessions
    decision = route(
        JobOffer.from_request(request),
        role=WorkerRole.SPAWNER,
        deployment=settings.platform_env,
        at_capacity=at_capacity,
    )
    metrics.JOBS.labels(verdict=decision.verdict).inc()
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


@server.rtc_session(agent_name=AGENT_NAME, on_request=on_request)
async def entrypoint(ctx: JobContext) -> None:
    await Call(ctx, Runtime.shared(settings), settings).run()
