"""One job, start to end: the thin adapter between LiveKit's JobContext and the spawner's parts.

    assignment ─▶ another agent here? leave ─▶ load config ─▶ refuse? tell the room, record
    a failed session ─▶ record the start ─▶ build agent + session (agent ready) ─▶ connect ─▶
    lifecycle (room events → `Lifecycle`, attributes published) ─▶ close ─▶ record the end

Every log line of the job carries `job_id`, `room` and `agent_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
from livekit import api, rtc
from livekit.agents import AgentSession, CloseEvent, JobContext, llm
from pydantic import ValidationError

from shared.contracts import (
    AgentConfig,
    AgentStatus,
    DispatchMetadata,
    EndReason,
    NewCallSession,
    SessionKind,
    SessionStatus,
)
from shared.contracts.agent_config import NotRunnable, check_runnable
from shared.contracts.lifecycle import LifecycleState
from shared.contracts.room_messages import SpawnerErrorCode
from shared.contracts.versions import DRAFT, RunTarget, with_version
from shared.logging import bind_log_context, get_logger
from shared.naming import WorkerRole
from shared.presence import agents_ahead_in_room, human_kind
from shared.recording import CallEnd, call_end
from shared.room_notice import tell_room
from shared.routing import Decision, JobOffer, Verdict, console_metadata, route
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store import AgentStore, InvalidInput, NotFound, StoreUnavailable
from shared.tool_access import OwnerTools, ToolAccess
from spawner import factory, metrics
from spawner.lifecycle import Lifecycle
from spawner.loader import process_loader
from spawner.summary import summarize
from spawner.tools import ToolContext, tls_context

log = get_logger(__name__)
# How often a call looks at its worker's drain flag, and how long before the drain deadline it
# ends, so that its records are written while the worker still waits for it.
DRAIN_POLL_S = 0.5
DRAIN_MARGIN_S = 1.0

# Ends after which the room has no further use: it is deleted with the call.
_DELETE_ROOM_ON = {EndReason.GRACE_EXPIRED, EndReason.END_CALL, EndReason.MAX_DURATION}
SummaryModel = Callable[[], llm.LLM[Any]]


CONSOLE_CALLER = "console"


def console_decision(settings: Settings) -> Decision:
    """What `python -m spawner console` runs: a local job no backend dispatched, so the agent
    comes from SPAWNER_CONSOLE_AGENT_ID, in dev/test only."""
    agent_id = settings.spawner_console_agent_id
    metadata = console_metadata(settings, SessionKind.TEST, CONSOLE_CALLER, agent_id)
    if agent_id is None or metadata is None:
        return Decision(
            Verdict.MISSING_METADATA,
            "console runs need SPAWNER_CONSOLE_AGENT_ID (and PLATFORM_ENV dev or test)",
        )
    return Decision(Verdict.ACCEPT, metadata=metadata, agent_id=agent_id)


async def best_effort(event: str, operation: Awaitable[object]) -> None:
    """Awaits a step the call can end without; a failure is logged as `event`, not raised."""
    try:
        await operation
    except Exception as exc:
        log.warning(event, error=f"{type(exc).__name__}: {exc}")


class AgentRefused(Exception):
    def __init__(self, code: SpawnerErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def tool_context(
    settings: Settings, store: AgentStore, owner_id: UUID, client: httpx.AsyncClient
) -> ToolContext:
    """The call's tools act for the agent's owner: their secrets, their egress exemptions."""
    return ToolContext(client=client, owner=OwnerTools(ToolAccess(store, settings), owner_id))


def runnable(config: AgentConfig, version: RunTarget | None) -> RunTarget:
    """`check_runnable` as the spawner refuses it: what runs, or the code the room is told."""
    try:
        return check_runnable(config, version)
    except NotRunnable as exc:
        if exc.unpublished:
            code = SpawnerErrorCode.AGENT_NOT_PUBLISHED
        elif exc.status is AgentStatus.ARCHIVED:
            code = SpawnerErrorCode.AGENT_ARCHIVED
        else:
            code = SpawnerErrorCode.AGENT_NOT_ACTIVE
        raise AgentRefused(code, str(exc)) from exc


class Call:
    def __init__(
        self,
        ctx: JobContext,
        runtime: Runtime,
        settings: Settings,
        *,
        summary_model: SummaryModel | None = None,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self.ctx = ctx
        self._draining = draining
        self._drain_watch: asyncio.Task[None] | None = None
        self.runtime = runtime
        self.settings = settings
        self._summary_model = summary_model or self._openai_summary_model
        self._wake = asyncio.Event()
        self._room_name = ctx.job.room.name
        self._metadata: DispatchMetadata | None = None
        self._agent_id: UUID | None = None
        self._started = time.monotonic()
        # Where the admission time goes (ms since the job started), logged with agent_ready.
        self._marks: dict[str, float] = {}
        # Why the session closed itself, when a model failed for good (recorded, told the room).
        self._model_error: str | None = None

    async def run(self) -> None:
        job = self.ctx.job
        if self.ctx.is_fake_job():
            decision = console_decision(self.settings)
        else:
            decision = route(
                JobOffer(job.id, job.room.name, job.room.metadata, job.metadata),
                role=WorkerRole.SPAWNER,
                deployment=self.settings.platform_env,
                at_capacity=False,
            )
        with bind_log_context(room=self._room_name, job_id=job.id, agent_id=decision.agent_id):
            if not decision.accepted or decision.agent_id is None:
                # The request handler already refused such jobs; a job here is a bug upstream.
                log.error("job_not_runnable", verdict=decision.verdict, reason=decision.reason)
                self.ctx.shutdown("not runnable")
                return
            self._metadata, self._agent_id = decision.metadata, decision.agent_id
            metrics.ACTIVE_SESSIONS.inc()
            try:
                await self._run()
            finally:
                metrics.ACTIVE_SESSIONS.dec()

    @property
    def kind(self) -> SessionKind:
        return self._metadata.kind if self._metadata else SessionKind.TEST

    async def _run(self) -> None:
        if not self.ctx.is_fake_job() and await agents_ahead_in_room(
            self.ctx, timeout_s=self.settings.livekit_api_timeout_s
        ):
            metrics.JOBS.labels(verdict="duplicate_agent").inc()
            self.ctx.shutdown("another agent serves this room")
            return
        assert self._agent_id is not None
        try:
            self._mark("listed")
            config, version = await self._load(self._agent_id)
            if not self.settings.openai_api_key.get_secret_value():
                # A dev platform started without a model: say so instead of a silent agent.
                raise AgentRefused(
                    SpawnerErrorCode.NO_MODEL_CONFIGURED, "OPENAI_API_KEY is not set"
                )
            self._mark("loaded")
        except AgentRefused as refused:
            await self._refuse(refused)
            return
        new = self._new_session(config, ran=version)
        session_id = await self.runtime.call(self.runtime.recorder.start(new))
        self._mark("recorded")
        async with httpx.AsyncClient(follow_redirects=False, verify=tls_context()) as client:
            await self._converse(config, session_id, client)

    async def _load(self, agent_id: UUID) -> tuple[AgentConfig, RunTarget]:
        """What this call runs — the version the dispatch names (the published one if it names
        none) or the working draft — and which of them it is."""
        row = await self._load_row(agent_id)
        target = runnable(row, self._metadata.version if self._metadata else None)
        if target == DRAFT:
            log.info("running_draft", draft_version=row.version)
            return row, DRAFT
        assert isinstance(target, int)
        loader = process_loader(self.runtime)
        try:
            snapshot = loader.cached_version(agent_id, target)
            if snapshot is None:
                snapshot = await self.runtime.call(loader.version(agent_id, target))
            config = with_version(row, snapshot)
        except NotFound as exc:
            raise AgentRefused(SpawnerErrorCode.VERSION_NOT_FOUND, str(exc)) from exc
        except (InvalidInput, ValidationError) as exc:
            raise AgentRefused(SpawnerErrorCode.INVALID_CONFIG, str(exc)) from exc
        except StoreUnavailable as exc:
            raise AgentRefused(SpawnerErrorCode.STORE_UNAVAILABLE, str(exc)) from exc
        log.info("running_version", version=target)
        return config, target

    async def _load_row(self, agent_id: UUID) -> AgentConfig:
        """The agent row: its status, its published version, its draft. At least as new as
        the backend saw it when it created the room (`agent_version`)."""
        version = self._metadata.agent_version if self._metadata else None
        loader = process_loader(self.runtime)
        if (config := loader.cached(agent_id, min_version=version)) is not None:
            return config
        try:
            return await self.runtime.call(loader.get(agent_id, min_version=version))
        except NotFound as exc:
            raise AgentRefused(SpawnerErrorCode.AGENT_NOT_FOUND, str(exc)) from exc
        except InvalidInput as exc:
            raise AgentRefused(SpawnerErrorCode.INVALID_CONFIG, str(exc)) from exc
        except StoreUnavailable as exc:
            raise AgentRefused(SpawnerErrorCode.STORE_UNAVAILABLE, str(exc)) from exc

    async def _refuse(self, refused: AgentRefused) -> None:
        log.warning("agent_refused", code=refused.code, detail=str(refused))
        await self._tell_room(refused.code)
        # An unknown agent cannot be referenced by the row; the room name still names it.
        known = refused.code not in (SpawnerErrorCode.AGENT_NOT_FOUND,)
        new = self._new_session(None, agent_id=self._agent_id if known else None)
        recorder = self.runtime.recorder
        session_id = await self.runtime.call(recorder.start(new))
        end = CallEnd(
            session_id,
            EndReason.ERROR,
            status=SessionStatus.FAILED,
            error=f"{refused.code}: {refused}",
        )
        await self.runtime.call(recorder.finish(end))
        metrics.SESSIONS_ENDED.labels(reason=EndReason.ERROR, status=SessionStatus.FAILED).inc()
        self.ctx.shutdown(f"agent refused: {refused.code}")

    async def _tell_room(self, code: SpawnerErrorCode) -> None:
        await tell_room(
            self.ctx.api,
            self.ctx.room,
            self._room_name,
            code,
            self._agent_id,
            timeout_s=self.settings.livekit_api_timeout_s,
        )

    def _new_session(
        self,
        config: AgentConfig | None,
        *,
        agent_id: UUID | None = None,
        ran: RunTarget | None = None,
    ) -> NewCallSession:
        return NewCallSession(
            id=uuid4(),
            agent_id=config.id if config else agent_id,
            owner_id=config.owner_id if config else None,
            room_name=self._room_name,
            kind=self.kind,
            deployment=self.settings.platform_env,
            participant_identity=self._metadata.requested_by if self._metadata else None,
            job_id=self.ctx.job.id,
            agent_version=ran if isinstance(ran, int) else None,
            draft_version=config.version if config is not None and ran == DRAFT else None,
        )

    async def _converse(
        self, config: AgentConfig, session_id: UUID, client: httpx.AsyncClient
    ) -> None:
        lifecycle = Lifecycle(
            grace_period_s=self.settings.grace_period_s,
            max_duration_s=self.settings.max_call_duration_s,
            agent_id=config.id,
            session_id=session_id,
            deployment=self.settings.platform_env,
            on_change=self._on_change,
        )
        agent = factory.build_agent(
            config,
            tool_context(self.settings, self.runtime.job_store(), config.owner_id, client),
            on_end_call=functools.partial(lifecycle.close, EndReason.END_CALL),
        )
        session = factory.build_session(config, self.settings)
        self._ready()

        reason, status, error = EndReason.ERROR, SessionStatus.FAILED, None
        try:
            await self.ctx.connect()
            if not self.ctx.is_fake_job() and (
                ahead := await agents_ahead_in_room(
                    self.ctx, timeout_s=self.settings.livekit_api_timeout_s
                )
            ):
                raise RuntimeError(f"another agent joined the room first: {', '.join(ahead)}")
            self._watch(lifecycle, session)
            if self.ctx.is_fake_job():
                # Console: the person at the terminal is the caller; no one joins a room.
                lifecycle.human_joined(CONSOLE_CALLER)
            await self._publish(lifecycle)
            await self._drive(lifecycle, session, agent)
            reason, status = lifecycle.end_reason or EndReason.ERROR, SessionStatus.ENDED
            if reason is EndReason.ERROR and self._model_error is not None:
                # The model went away for good (the plugin's reconnects are spent): the caller
                # is told why the agent stops talking, and the call counts as failed.
                status, error = SessionStatus.FAILED, self._model_error
                await self._tell_room(SpawnerErrorCode.MODEL_UNAVAILABLE)
        except asyncio.CancelledError:
            # The worker is closing (drain timeout, SIGTERM in dev): LiveKit cancels a job's
            # entry point that outlives its shutdown grace. The call ends here, recorded.
            lifecycle.close(EndReason.SHUTDOWN)
            reason, status = EndReason.SHUTDOWN, SessionStatus.ENDED
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("call_failed", error=error)
            raise
        finally:
            if self._drain_watch is not None:
                self._drain_watch.cancel()
            ended_at = lifecycle.ended_at or datetime.now(UTC)  # not closed: it ends now
            await self._finish(session_id, session, config, reason, status, error, ended_at)

    def _mark(self, step: str) -> None:
        self._marks[f"{step}_ms"] = round((time.monotonic() - self._started) * 1000, 2)

    def _ready(self) -> None:
        """The agent is ready: config loaded, session built; the room connection comes next."""
        # Private on purpose: livekit-agents 1.8 keeps the dispatch timeline (`assigned_at`,
        # when the server's assignment arrived) only on JobContext._info (RunningJobInfo) and
        # has no public accessor; the time the entry point started would leave out the
        # process launch we want to measure. Read defensively: if a release renames it, the
        # metric is skipped, the call is not affected.
        info = getattr(self.ctx, "_info", None)
        assigned_at = getattr(info, "assigned_at", 0.0) or 0.0
        admission_s = time.time() - assigned_at if assigned_at else None
        if admission_s is not None:
            metrics.ADMISSION_SECONDS.observe(admission_s)
        log.info(
            "agent_ready",
            admission_ms=round(admission_s * 1000, 2) if admission_s is not None else None,
            job_ms=round((time.monotonic() - self._started) * 1000, 2),
            **self._marks,
        )

    async def _drive(self, lifecycle: Lifecycle, session: AgentSession[Any], agent: Any) -> None:
        started = False
        while not lifecycle.closed:
            if lifecycle.state is LifecycleState.STARTING and not started:
                started = True
                await session.start(
                    agent, room=self.ctx.room, room_options=factory.room_options(self.settings)
                )
                lifecycle.session_started()
                continue
            deadline = lifecycle.next_deadline()
            timeout = max(0.0, deadline - time.monotonic()) if deadline is not None else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            lifecycle.tick()

    def _watch(self, lifecycle: Lifecycle, session: AgentSession[Any]) -> None:
        room = self.ctx.room

        def joined(participant: rtc.RemoteParticipant) -> None:
            if human_kind(participant.kind):
                lifecycle.human_joined(participant.identity)

        def left(participant: rtc.RemoteParticipant) -> None:
            lifecycle.human_left(participant.identity)

        room.on("participant_connected", joined)
        room.on("participant_disconnected", left)
        room.on("disconnected", lambda *_: lifecycle.close(EndReason.USER_HANGUP))

        def closed(event: CloseEvent) -> None:
            if event.error is not None and self._model_error is None:
                self._model_error = f"model: {event.error.error!r}"
                log.error("model_failed", error=self._model_error)
            lifecycle.close(EndReason.ERROR)

        session.on("close", closed)

        async def on_shutdown(reason: str) -> None:
            lifecycle.close(EndReason.SHUTDOWN)

        self.ctx.add_shutdown_callback(on_shutdown)
        self._drain_watch = asyncio.ensure_future(self._end_at_drain_deadline(lifecycle))
        for participant in room.remote_participants.values():
            joined(participant)

    async def _end_at_drain_deadline(self, lifecycle: Lifecycle) -> None:
        """Ends the call as `shutdown` when the worker's drain timeout runs out.

        livekit-agents 1.8 tells a running job nothing when its worker starts draining, and once
        the drain timeout has passed it waits a fixed 15 s more before it cancels the entry
        point (`ipc/job_proc_lazy_main._shutdown_job`); shutdown callbacks run only after that.
        So the call watches the worker's public `draining` flag itself and closes a second
        before the deadline, leaving time to write its records before the worker closes. With
        the process executor the flag is the job process's own and never set: the worker's
        cancellation then ends the call, 15 s later, as before."""
        timeout_s = self.settings.worker_drain_timeout_s
        if timeout_s == 0:  # no drain timeout: the worker waits for every call to end by itself
            return
        while not self._draining():  # noqa: ASYNC110 (a flag the SDK sets; it offers no event)
            await asyncio.sleep(DRAIN_POLL_S)
        log.info("worker_draining", call_ends_in_s=max(0.0, timeout_s - DRAIN_MARGIN_S))
        await asyncio.sleep(max(0.0, timeout_s - DRAIN_MARGIN_S))
        lifecycle.close(EndReason.SHUTDOWN)

    def _on_change(self, lifecycle: Lifecycle) -> None:
        log.info("lifecycle", state=lifecycle.state, end_reason=lifecycle.end_reason)
        self._wake.set()
        if self.ctx.room.isconnected():
            task = asyncio.ensure_future(self._publish(lifecycle))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _publish(self, lifecycle: Lifecycle) -> None:
        attributes = lifecycle.snapshot().to_attributes()
        try:
            await asyncio.wait_for(
                self.ctx.room.local_participant.set_attributes(attributes),
                self.settings.livekit_api_timeout_s,
            )
        except Exception as exc:  # the room is going away; attributes go with it
            log.warning("lifecycle_not_published", error=repr(exc))

    async def _finish(
        self,
        session_id: UUID,
        session: AgentSession[Any],
        config: AgentConfig,
        reason: EndReason,
        status: SessionStatus,
        error: str | None,
        ended_at: datetime,
    ) -> None:
        # The records below matter more than a clean close: a failing close is logged, not fatal.
        await best_effort("session_not_closed", session.aclose())
        summary = (
            await summarize(self._summary_model(), session.history) if config.summarize else None
        )
        end = call_end(
            session_id,
            reason,
            session,
            status=status,
            error=error,
            summary=summary,
            ended_at=ended_at,
        )
        await self.runtime.call(self.runtime.recorder.finish(end))
        metrics.SESSIONS_ENDED.labels(reason=reason, status=status).inc()
        metrics.SESSION_SECONDS.observe(time.monotonic() - self._started)
        log.info("call_ended", end_reason=reason, status=status)
        if reason in _DELETE_ROOM_ON and not self.ctx.is_fake_job():
            # Left undeleted, LiveKit closes the room after its departure timeout anyway.
            delete = self.ctx.api.room.delete_room(api.DeleteRoomRequest(room=self._room_name))
            await best_effort(
                "room_not_deleted", asyncio.wait_for(delete, self.settings.livekit_api_timeout_s)
            )
        self.ctx.shutdown(f"call ended: {reason}")

    def _openai_summary_model(self) -> llm.LLM[Any]:
        return factory.summary_model(self.settings)
