"""The Voxie worker: takes `voxie-creation-*` jobs for its deployment and runs one Voxie each.

    python -m voxie start    # production (dev: `dev`, a local terminal session: `console`)

Registered under `voxie-{PLATFORM_ENV}` (explicit dispatch: only the rooms the backend created
with one dispatch to that name reach it). The request handler applies the shared routing rule
(`shared.routing.route`), then Voxie's own admission: the session must be a creation session
requested by a user (`user:<uuid>`), who owns what it builds (`voxie.admission`). Voxie never
starts or dispatches another agent.

Each accepted job runs one `voxie.call.CreationCall`: the call skeleton both workers share
(`shared.call`: another agent first, the session record, how a call ends) with Voxie and its
draft.
"""

from __future__ import annotations

from livekit.agents import AgentServer, JobContext, JobProcess, JobRequest

from shared.contracts import DispatchMetadata, SessionKind
from shared.contracts.dispatch import DEV_USER_ID, user_identity
from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from shared.logging import bind_log_context, configure_logging, get_logger
from shared.naming import WorkerRole
from shared.routing import JobOffer, Verdict, console_metadata, route
from shared.settings import Settings
from shared.worker import (
    agent_server,
    answer_probe,
    draining,
    job_settings,
    session_load,
    start_heartbeat,
    start_spool_replayer,
)
from voxie.admission import Refusal, admit
from voxie.call import CreationCall

log = get_logger(__name__)

PARTICIPANT_NAME = "Voxie"
# Owner of what `python -m voxie console` builds (dev/test only: no user minted that session).
CONSOLE_OWNER = DEV_USER_ID


# --- the server ----------------------------------------------------------------------------------


def build_server(settings: Settings) -> AgentServer:
    """Voxie's `AgentServer` for `settings` (built once, by `shared.worker.run`)."""
    agent_name = settings.worker_agent_name(WorkerRole.VOXIE)

    def load(server: AgentServer) -> float:
        # Sessions are network-bound (the model runs remotely): count them, not CPU.
        return session_load(len(server.active_jobs), settings)

    server = agent_server(settings, load_fnc=load, setup_fnc=prewarm)

    @server.on("worker_started")
    def _on_started() -> None:
        start_spool_replayer(settings)

    @server.on("worker_registered")
    def _on_registered(worker_id: str, _server_info: object) -> None:
        log.info(
            "voxie_registered",
            agent_name=agent_name,
            worker_id=worker_id,
            deployment=settings.platform_env,
        )
        start_heartbeat(server, settings, role=WorkerRole.VOXIE, load_fnc=load)

    async def on_request(request: JobRequest) -> None:
        await answer(request, server, settings)

    server.rtc_session(agent_name=agent_name, on_request=on_request)(entrypoint)
    return server


def prewarm(proc: JobProcess, settings: Settings) -> None:
    # A job process logs like the worker: the same structured lines, straight to stdout.
    configure_logging(settings.log_level, settings.log_format)


async def answer(request: JobRequest, server: AgentServer, settings: Settings) -> None:
    """The request handler: the shared routing rule, then Voxie's admission."""
    decision = route(
        JobOffer.from_request(request),
        role=WorkerRole.VOXIE,
        deployment=settings.platform_env,
        at_capacity=len(server.active_jobs) >= settings.worker_max_sessions,
        require_metadata=True,
    )
    if decision.verdict is Verdict.PROBE:
        await answer_probe(request, settings, role=WorkerRole.VOXIE, worker_id=server.id)
        return
    if not decision.accepted:
        await request.reject(terminate=decision.terminate)
        return
    admitted = admit(decision)
    if isinstance(admitted, Refusal):
        log.warning(
            "job_refused", room=request.room.name, job_id=request.id, reason=admitted.reason
        )
        await request.reject(terminate=True)
        return
    lifecycle = AgentLifecycle(
        state=LifecycleState.STARTING,
        agent_id=decision.agent_id,
        deployment=settings.platform_env,
    )
    log.info("job_accepted", room=request.room.name, job_id=request.id)
    await request.accept(name=PARTICIPANT_NAME, attributes=lifecycle.to_attributes())


async def entrypoint(ctx: JobContext) -> None:
    # Module level: a process executor's job process finds it by this module's path.
    settings = job_settings(ctx)
    metadata = DispatchMetadata.parse(ctx.job.metadata) or _console_metadata(ctx, settings)
    with bind_log_context(room=ctx.job.room.name, job_id=ctx.job.id, agent_id=metadata.agent_id):
        call = await CreationCall.for_job(ctx, settings, metadata, draining=draining)
        await call.run()


def _console_metadata(ctx: JobContext, settings: Settings) -> DispatchMetadata:
    """`python -m voxie console` runs a local job no backend dispatched: in dev/test it builds
    agents for a fixed console user (`CONSOLE_OWNER`)."""
    console = console_metadata(settings, SessionKind.CREATION, user_identity(CONSOLE_OWNER))
    if not ctx.is_fake_job() or console is None:
        raise RuntimeError("on_request admits only jobs with valid dispatch metadata")
    return console
