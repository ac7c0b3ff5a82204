"""The Voxie worker: takes `voxie-creation-*` jobs for its deployment and runs one Voxie each.

    python -m voxie start    # production (dev: `dev`, a local terminal session: `console`)

Registered under `voxie-{PLATFORM_ENV}` (explicit dispatch: only the rooms the backend created
with one dispatch to that name reach it). The request handler applies the shared routing rule
(`shared.routing.route`), then Voxie's own admission: the session must be a creation session
requested by a user (`user:<uuid>`), who owns what it builds (`voxie.admission`). Voxie never
starts or dispatches another agent, and leaves a room in which another agent was there first.

Each job records a `call_sessions` row of kind `creation` (transcript and token usage at the
end) through the no-loss `SessionRecorder`, and tells the browser about the draft on the
`voxie.draft` / `voxie.agent_saved` text-stream topics.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from livekit.agents import AgentServer, AgentSession, JobContext, JobProcess, JobRequest
from livekit.agents.voice.events import CloseEvent

from shared.contracts import DispatchMetadata, EndReason, NewCallSession, SessionKind
from shared.contracts.dispatch import DEV_USER_ID, user_identity
from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from shared.contracts.room_messages import SpawnerErrorCode
from shared.logging import bind_log_context, configure_logging, get_logger
from shared.naming import WorkerRole
from shared.presence import agents_ahead_in_room
from shared.recording import SessionRecorder, call_end
from shared.room_notice import tell_room
from shared.routing import JobOffer, Verdict, console_metadata, route
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store import StoreError
from shared.tool_access import ToolAccess
from shared.worker import agent_server, answer_probe, session_load, start_spool_replayer
from voxie.admission import Refusal, admit, end_reason_of
from voxie.agent import ROOM_OPTIONS, VoxieAgent, voxie_llm
from voxie.draft import Draft, owner_id_from
from voxie.messages import RoomSender

log = get_logger(__name__)

settings = Settings()
settings.validate_for("voxie")
AGENT_NAME = settings.worker_agent_name(WorkerRole.VOXIE)
PARTICIPANT_NAME = "Voxie"
# Owner of what `python -m voxie console` builds (dev/test only: no user minted that session).
CONSOLE_OWNER = DEV_USER_ID


# --- the server ----------------------------------------------------------------------------------


def _load(server: AgentServer) -> float:
    # Sessions are network-bound (the model runs remotely): count them, not CPU.
    return session_load(len(server.active_jobs), settings)


def prewarm(proc: JobProcess) -> None:
    # A job process logs like the worker: the same structured lines, straight to stdout.
    configure_logging(settings.log_level, settings.log_format)


server = agent_server(settings, load_fnc=_load, setup_fnc=prewarm)


@server.on("worker_started")
def _on_started() -> None:
    # LiveKit's CLI installed its own log handler; ours replaces it.
    configure_logging(settings.log_level, settings.log_format)
    start_spool_replayer(settings)


@server.on("worker_registered")
def _on_registered(worker_id: str, _server_info: object) -> None:
    log.info(
        "voxie_registered",
        agent_name=AGENT_NAME,
        worker_id=worker_id,
        deployment=settings.platform_env,
    )


async def on_request(request: JobRequest) -> None:
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


@server.rtc_session(agent_name=AGENT_NAME, on_request=on_request)
async def entrypoint(ctx: JobContext) -> None:
    metadata = DispatchMetadata.parse(ctx.job.metadata) or _console_metadata(ctx)
    with bind_log_context(room=ctx.job.room.name, job_id=ctx.job.id, agent_id=metadata.agent_id):
        runtime = await asyncio.to_thread(Runtime.shared, settings)
        await _run(ctx, runtime, metadata, owner_id_from(metadata.requested_by))


class CreationCall:
    """One job's record: its `call_sessions` row, the conversation, and why it ended.

    `close()` runs once, at the job's end whatever ended it: the draft's last writes, then the
    session's end with transcript and usage (spooled if the store is down). The store is the
    process runtime's (`Runtime.job_store`): it outlives the call.
    """

    def __init__(self, recorder: SessionRecorder, session_id: UUID) -> None:
        self.recorder = recorder
        self.session_id = session_id
        self.session: AgentSession[None] | None = None
        self.draft: Draft | None = None
        self._ended: tuple[EndReason, str | None] | None = None
        self._closed = False

    def end(self, reason: EndReason, error: str | None = None) -> None:
        """Names the end; the first cause wins (a hang-up, then the shutdown it triggers)."""
        if self._ended is None:
            self._ended = (reason, error)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        reason, error = self._ended or (EndReason.SHUTDOWN, None)
        if self.draft is not None:
            await self.draft.flush()
        await self.recorder.finish(call_end(self.session_id, reason, self.session, error=error))
        log.info("voxie_session_ended", end_reason=reason, session_id=str(self.session_id))


def _console_metadata(ctx: JobContext) -> DispatchMetadata:
    """`python -m voxie console` runs a local job no backend dispatched: in dev/test it builds
    agents for a fixed console user (`CONSOLE_OWNER`)."""
    console = console_metadata(settings, SessionKind.CREATION, user_identity(CONSOLE_OWNER))
    if not ctx.is_fake_job() or console is None:
        raise RuntimeError("on_request admits only jobs with valid dispatch metadata")
    return console


async def _run(
    ctx: JobContext, runtime: Runtime, metadata: DispatchMetadata, owner_id: UUID
) -> None:
    room_name = ctx.job.room.name
    if await _another_agent_first(ctx):
        return
    store = runtime.job_store()
    recorder = SessionRecorder(store, settings.spool_dir)
    session_id = await recorder.start(
        NewCallSession(
            agent_id=metadata.agent_id,
            owner_id=owner_id,
            room_name=room_name,
            kind=SessionKind.CREATION,
            deployment=settings.platform_env,
            participant_identity=metadata.requested_by,
            job_id=ctx.job.id,
        )
    )
    call = CreationCall(recorder, session_id)
    ctx.add_shutdown_callback(call.close)
    if not settings.openai_api_key.get_secret_value():
        # A dev platform started without a model: tell the browser why, as the spawner does,
        # instead of a Voxie that never joins (the model client would refuse to start).
        code = SpawnerErrorCode.NO_MODEL_CONFIGURED
        log.warning("agent_refused", code=code)
        call.end(EndReason.ERROR, f"{code}: OPENAI_API_KEY is not set")
        await tell_room(
            ctx.api,
            ctx.room,
            room_name,
            code,
            metadata.agent_id,
            timeout_s=settings.livekit_api_timeout_s,
        )
        ctx.shutdown("no model configured")
        return
    try:
        await ctx.connect()
    except Exception as exc:
        log.error("room_connect_failed", error=str(exc))
        call.end(EndReason.ERROR, str(exc))
        await call.close()
        raise
    if await _another_agent_first(ctx):
        call.end(EndReason.SHUTDOWN, "another agent reached the room first")
        return
    try:
        call.draft = await Draft.open(
            store,
            RoomSender(ctx.room.local_participant, timeout_s=settings.livekit_api_timeout_s),
            owner_id,
            metadata.agent_id,
        )
    except StoreError as exc:  # NotFound included: not theirs, archived or deleted
        log.error("edit_session_refused", reason=str(exc))
        call.end(EndReason.ERROR, str(exc))
        ctx.shutdown("the agent to edit is unavailable")
        return
    await _converse(ctx, call, call.draft, metadata)


async def _converse(
    ctx: JobContext, call: CreationCall, draft: Draft, metadata: DispatchMetadata
) -> None:
    session: AgentSession[None] = AgentSession(llm=voxie_llm(settings))
    call.session = session

    def end(reason: EndReason, error: str | None = None) -> None:
        call.end(reason, error)
        ctx.shutdown(reason.value)

    @session.on("close")
    def _on_close(event: CloseEvent) -> None:
        end(end_reason_of(event), str(event.error) if event.error else None)

    timer = asyncio.get_running_loop().call_later(
        settings.max_call_duration_s, end, EndReason.MAX_DURATION
    )

    async def stop_timer() -> None:
        timer.cancel()

    ctx.add_shutdown_callback(stop_timer)
    agent = VoxieAgent(draft, access=ToolAccess(draft.store, settings))
    await session.start(agent, room=ctx.room, room_options=ROOM_OPTIONS)
    lifecycle = AgentLifecycle(
        state=LifecycleState.ACTIVE,
        agent_id=metadata.agent_id,
        session_id=call.session_id,
        deployment=settings.platform_env,
    )
    try:
        await asyncio.wait_for(
            ctx.room.local_participant.set_attributes(lifecycle.to_attributes()),
            settings.livekit_api_timeout_s,
        )
    except Exception as exc:  # the dashboard's view only; the conversation goes on
        log.warning("lifecycle_not_published", error=f"{type(exc).__name__}: {exc}")


async def _another_agent_first(ctx: JobContext) -> bool:
    """One agent per room (`shared.presence`): if one stays ahead of this job, it leaves."""
    if ctx.is_fake_job():
        return False  # console: a local room with no server to ask
    if ahead := bool(await agents_ahead_in_room(ctx, timeout_s=settings.livekit_api_timeout_s)):
        ctx.shutdown("another agent is in the room")
    return ahead
