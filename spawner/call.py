"""A spawned call: a user's agent in the shared call skeleton (`shared.call`), with what is the
spawner's own —

    load the config (and the version the dispatch names) ─▶ refuse what cannot run ─▶ build the
    agent (tools acting for its owner) and its session ─▶ drive the call through `Lifecycle`
    (the session starts with the first human; the grace period; `end_call`) ─▶ summarise

Every log line of the job carries `job_id`, `room` and `agent_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
from livekit.agents import Agent, AgentSession, JobContext, llm
from pydantic import ValidationError

from shared.call import Call, CallRoom, Refused
from shared.contracts import (
    AgentConfig,
    AgentStatus,
    DispatchMetadata,
    EndReason,
    NewCallSession,
    SessionKind,
)
from shared.contracts.agent_config import NotRunnable, check_runnable
from shared.contracts.lifecycle import LifecycleState
from shared.contracts.room_messages import SpawnerErrorCode
from shared.contracts.versions import DRAFT, RunTarget, with_version
from shared.logging import get_logger
from shared.naming import WorkerRole
from shared.recording import CallEnd
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

SummaryModel = Callable[[], llm.LLM[Any]]
ModelsFor = Callable[[AgentConfig], factory.Models]

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


def job_decision(ctx: JobContext, settings: Settings) -> Decision:
    """The routing rule once more, for the job the request handler accepted (a console job: the
    configured agent)."""
    if ctx.is_fake_job():
        return console_decision(settings)
    job = ctx.job
    return route(
        JobOffer(job.id, job.room.name, job.room.metadata, job.metadata),
        role=WorkerRole.SPAWNER,
        deployment=settings.platform_env,
        at_capacity=False,
    )


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
        raise Refused(code, str(exc), agent_id=config.id) from exc


class SpawnedCall(Call):
    """`models` and `summary_model` replace the configured models (tests: the scripted LLM)."""

    def __init__(
        self,
        room: CallRoom,
        runtime: Runtime,
        settings: Settings,
        metadata: DispatchMetadata | None,
        *,
        agent_id: UUID | None = None,
        draining: Callable[[], bool] = lambda: False,
        models: ModelsFor | None = None,
        summary_model: SummaryModel | None = None,
    ) -> None:
        super().__init__(room, runtime, settings, metadata, agent_id=agent_id, draining=draining)
        self._models = models
        self._summary_model = summary_model or functools.partial(factory.summary_model, settings)
        self._client: httpx.AsyncClient | None = None
        self._config: AgentConfig | None = None
        self._lifecycle: Lifecycle | None = None
        self._wake = asyncio.Event()
        # Where the admission time goes (ms since the job started), logged with agent_ready.
        self._marks: dict[str, float] = {}

    async def run(self) -> None:
        metrics.ACTIVE_SESSIONS.inc()
        try:
            async with httpx.AsyncClient(follow_redirects=False, verify=tls_context()) as client:
                self._client = client
                await super().run()
        finally:
            metrics.ACTIVE_SESSIONS.dec()

    # --- before the room ---------------------------------------------------------------------

    async def prepare(self) -> NewCallSession:
        assert self.agent_id is not None, "the routing rule runs agent rooms only"
        self._mark("listed")
        config, ran = await self._load(self.agent_id)
        self._mark("loaded")
        self._config = config
        return self.session_record(
            agent_id=config.id, owner_id=config.owner_id, ran=ran, draft_version=config.version
        )

    async def _load(self, agent_id: UUID) -> tuple[AgentConfig, RunTarget]:
        """What this call runs — the version the dispatch names (the published one if it names
        none) or the working draft — and which of them it is."""
        row = await self._load_row(agent_id)
        target = runnable(row, self.metadata.version if self.metadata else None)
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
            raise Refused(SpawnerErrorCode.VERSION_NOT_FOUND, str(exc), agent_id=agent_id) from exc
        except (InvalidInput, ValidationError) as exc:
            raise Refused(SpawnerErrorCode.INVALID_CONFIG, str(exc), agent_id=agent_id) from exc
        except StoreUnavailable as exc:
            raise Refused(SpawnerErrorCode.STORE_UNAVAILABLE, str(exc), agent_id=agent_id) from exc
        log.info("running_version", version=target)
        return config, target

    async def _load_row(self, agent_id: UUID) -> AgentConfig:
        """The agent row: its status, its published version, its draft. At least as new as
        the backend saw it when it created the room (`agent_version`)."""
        version = self.metadata.agent_version if self.metadata else None
        loader = process_loader(self.runtime)
        if (config := loader.cached(agent_id, min_version=version)) is not None:
            return config
        try:
            return await self.runtime.call(loader.get(agent_id, min_version=version))
        except NotFound as exc:
            # An unknown agent cannot be referenced by the row; the room name still names it.
            raise Refused(SpawnerErrorCode.AGENT_NOT_FOUND, str(exc)) from exc
        except InvalidInput as exc:
            raise Refused(SpawnerErrorCode.INVALID_CONFIG, str(exc), agent_id=agent_id) from exc
        except StoreUnavailable as exc:
            raise Refused(SpawnerErrorCode.STORE_UNAVAILABLE, str(exc), agent_id=agent_id) from exc

    def build(self, session_id: UUID) -> tuple[Agent, AgentSession[Any]]:
        self._mark("recorded")
        config, client = self._config, self._client
        assert config is not None and client is not None
        self._lifecycle = Lifecycle(
            grace_period_s=self.settings.grace_period_s,
            agent_id=config.id,
            session_id=session_id,
            deployment=self.settings.platform_env,
            on_change=self._on_change,
        )
        agent = factory.build_agent(
            config,
            tool_context(self.settings, self.runtime.job_store(), config.owner_id, client),
            on_end_call=functools.partial(self.end, EndReason.END_CALL),
        )
        models = self._models(config) if self._models is not None else None
        session = factory.build_session(config, self.settings, models=models)
        self._ready()
        return agent, session

    def _mark(self, step: str) -> None:
        self._marks[f"{step}_ms"] = round((time.monotonic() - self.started) * 1000, 2)

    def _ready(self) -> None:
        """The agent is ready: config loaded, session built; the room connection comes next."""
        assigned_at = self.room.assigned_at
        admission_s = time.time() - assigned_at if assigned_at else None
        if admission_s is not None:
            metrics.ADMISSION_SECONDS.observe(admission_s)
        log.info(
            "agent_ready",
            admission_ms=round(admission_s * 1000, 2) if admission_s is not None else None,
            job_ms=round((time.monotonic() - self.started) * 1000, 2),
            **self._marks,
        )

    # --- in the room ---------------------------------------------------------------------------

    async def drive(self, agent: Agent, session: AgentSession[Any]) -> None:
        lifecycle = self._lifecycle
        assert lifecycle is not None
        self.room.on_humans(lifecycle.human_joined, lifecycle.human_left)
        if self.room.console:
            # Console: the person at the terminal is the caller; no one joins a room.
            lifecycle.human_joined(CONSOLE_CALLER)
        await self._publish(lifecycle)
        started = False
        while not lifecycle.closed:
            if lifecycle.state is LifecycleState.STARTING and not started:
                started = True
                await self.room.start(session, agent, factory.room_options(self.settings))
                lifecycle.session_started()
                continue
            deadline = lifecycle.next_deadline()
            timeout = max(0.0, deadline - time.monotonic()) if deadline is not None else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            lifecycle.tick()

    def on_end(self, reason: EndReason) -> datetime | None:
        """The lifecycle closes with the call; a call that closes in grace ended when its last
        human left."""
        if self._lifecycle is None:
            return None
        self._lifecycle.close(reason)
        return self._lifecycle.ended_at

    def _on_change(self, lifecycle: Lifecycle) -> None:
        log.info("lifecycle", state=lifecycle.state, end_reason=lifecycle.end_reason)
        self._wake.set()
        if lifecycle.end_reason is not None:  # its own end: the grace period ran out
            self.end(lifecycle.end_reason)
        task = asyncio.ensure_future(self._publish(lifecycle))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _publish(self, lifecycle: Lifecycle) -> None:
        await self.room.publish(lifecycle.snapshot().to_attributes())

    # --- after -------------------------------------------------------------------------------

    async def finish(self, session: AgentSession[Any]) -> str | None:
        if self._config is None or not self._config.summarize:
            return None
        return await summarize(self._summary_model(), session.history)

    def recorded(self, end: CallEnd) -> None:
        metrics.SESSIONS_ENDED.labels(reason=end.end_reason, status=end.status).inc()
        if self._lifecycle is not None:
            metrics.SESSION_SECONDS.observe(time.monotonic() - self.started)

    def left(self, ahead: list[str]) -> None:
        metrics.JOBS.labels(verdict="duplicate_agent").inc()
