"""One call, start to end: the skeleton both workers run, each with its own agent.

    another agent here? leave ─▶ prepare (the worker's: what runs) ─▶ refused? tell the room,
    record a failed session ─▶ record the start ─▶ build agent + session (the worker's) ─▶
    connect ─▶ another agent came first? end ─▶ drive (the worker's, until an end) ─▶
    end reason ─▶ mark the session ending ─▶ finish (the worker's last writes) ─▶ record the
    end ─▶ shut the job down

The spawner (`spawner.call.SpawnedCall`) and Voxie (`voxie.call.CreationCall`) subclass `Call`
with what is their own — what runs and why it may be refused, the agent, how the conversation
is driven (the spawner's grace period, Voxie's draft) — and everything else is decided here, so
an end reason is recorded for the same event in both:

| what happened                                               | end_reason      | status |
|-------------------------------------------------------------|-----------------|--------|
| another agent was in the room before this job connected     | (none: the job leaves, unrecorded) |
| the worker refuses the call before it starts (no model too) | `error`         | failed |
| another agent is ahead right after connecting               | `shutdown`      | ended  |
| the session closes: its participant disconnected            | `user_hangup`   | ended  |
| the session closes: an error (the model went away for good) | `error`         | failed |
| the session closes: task completed, or closed by the agent  | `end_call`      | ended  |
| the session closes: job shutdown                            | `shutdown`      | ended  |
| the agent's room connection ends (the room went away)       | `user_hangup`   | ended  |
| MAX_CALL_DURATION_S passes                                  | `max_duration`  | ended  |
| the worker drains (a second before its deadline) or cancels | `shutdown`      | ended  |
| connecting or driving the call raises                       | `error`         | failed |
| the spawner's own: the grace period runs out                | `grace_expired` | ended  |
| the spawner's own: the agent's `end_call` tool              | `end_call`      | ended  |

The first end wins. `failed` is the status of exactly the `error` ends (`call_end`). Another
agent ahead is the one-agent rule (`shared.presence`) at work, not a failure of the call: the
newcomer leaves and the agent that was first serves the caller. A model that failed, or a
refusal with a code, is told to the room (`shared.room_notice`). The session records go through
the process runtime's recorder (`runtime.recorder`, spooled through a store outage), and the
room is deleted after the ends that leave it no use (`DELETE_ROOM_ON`). Every call's turns are
measured here too (`shared.turns`), so both workers record each reply's latency with the end.

Entry points build a call with `for_job`, the one way a job gets the process runtime:

    call = await SpawnedCall.for_job(ctx, settings, metadata, draining=lambda: server.draining)
    await call.run()
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, Self
from uuid import UUID

from livekit import api, rtc
from livekit.agents import Agent, AgentSession, JobContext
from livekit.agents.voice.events import CloseEvent, CloseReason
from livekit.agents.voice.room_io import RoomOptions

from shared.contracts import DispatchMetadata, EndReason, NewCallSession
from shared.contracts.room_messages import SpawnerErrorCode
from shared.contracts.sessions import call_record
from shared.contracts.versions import RunTarget
from shared.logging import get_logger
from shared.presence import agents_ahead_in_room, human_kind
from shared.recording import CallEnd, call_end
from shared.room_notice import tell_room
from shared.runtime import Runtime
from shared.turns import TurnLatencies

if TYPE_CHECKING:
    from shared.settings import Settings

log = get_logger(__name__)

# How a session that closed itself ended, by LiveKit's reason. `user_initiated` is the agent's
# own code closing it (LiveKit's EndCallTool does `session.shutdown()`); the skeleton's own
# close comes after the end is decided and changes nothing.
END_OF_CLOSE: dict[CloseReason, EndReason] = {
    CloseReason.PARTICIPANT_DISCONNECTED: EndReason.USER_HANGUP,
    CloseReason.ERROR: EndReason.ERROR,
    CloseReason.TASK_COMPLETED: EndReason.END_CALL,
    CloseReason.USER_INITIATED: EndReason.END_CALL,
    CloseReason.JOB_SHUTDOWN: EndReason.SHUTDOWN,
}
# Ends after which the room has no further use: it is deleted with the call. Left undeleted,
# LiveKit closes a room after its departure timeout anyway.
DELETE_ROOM_ON = frozenset({EndReason.GRACE_EXPIRED, EndReason.END_CALL, EndReason.MAX_DURATION})
# How often a call looks at its worker's drain flag, and how long before the drain deadline it
# ends, so that its records are written while the worker still waits for it.
DRAIN_POLL_S = 0.5
DRAIN_MARGIN_S = 1.0


def end_reason_of(event: CloseEvent) -> EndReason:
    """How a session that closed itself ended (a reason a later LiveKit adds: `error`)."""
    return END_OF_CLOSE.get(event.reason, EndReason.ERROR)


async def best_effort(event: str, operation: Awaitable[object]) -> None:
    """Awaits a step the call can end without; a failure is logged as `event`, not raised."""
    try:
        await operation
    except Exception as exc:
        log.warning(event, error=f"{type(exc).__name__}: {exc}")


class Refused(Exception):
    """Why a worker does not run a call (raised from `Call.prepare`): the room is told `code`,
    if there is one, and a failed session is recorded for `agent_id` / `owner_id`."""

    def __init__(
        self,
        code: SpawnerErrorCode | None,
        detail: str,
        *,
        agent_id: UUID | None = None,
        owner_id: UUID | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.agent_id = agent_id
        self.owner_id = owner_id

    @property
    def error(self) -> str:
        return f"{self.code}: {self}" if self.code else str(self)


class CallRoom(Protocol):
    """The room as a call uses it: LiveKit's (`JobRoom`) in a worker, a scripted one in tests."""

    @property
    def name(self) -> str: ...

    @property
    def job_id(self) -> str: ...

    @property
    def console(self) -> bool:
        """A local console job: no server to ask, nobody joins."""

    @property
    def assigned_at(self) -> float | None:
        """When the server's assignment arrived (epoch seconds), if known."""

    async def agents_ahead(self) -> list[str]:
        """The agents that stay ahead of this job's (`shared.presence`); none in a console."""

    async def connect(self) -> None: ...

    def on_humans(self, joined: Callable[[str], object], left: Callable[[str], object]) -> None:
        """`joined` for every human there now and later, `left` for every participant leaving."""

    def on_disconnected(self, callback: Callable[[], object]) -> None:
        """The agent's own connection to the room ended."""

    async def start(self, session: AgentSession[Any], agent: Agent, options: RoomOptions) -> None:
        """Starts `session` with `agent` on this room's audio, video and text."""

    async def publish(self, attributes: dict[str, str]) -> None:
        """The agent participant's attributes; a failure is logged (the room may be going)."""

    async def send_text(self, text: str, *, topic: str = "") -> None:
        """A text stream from the agent participant."""

    async def tell(self, code: SpawnerErrorCode, agent_id: UUID | None) -> None: ...

    async def delete(self) -> None:
        """Deletes the room (never a console's); a failure is logged."""

    def shutdown(self, reason: str) -> None: ...


class JobRoom:
    """`CallRoom` over LiveKit's `JobContext`. `timeout_s` (LIVEKIT_API_TIMEOUT_S) bounds every
    request to the server."""

    def __init__(self, ctx: JobContext, *, timeout_s: float) -> None:
        self._ctx = ctx
        self._timeout_s = timeout_s

    @property
    def name(self) -> str:
        return self._ctx.job.room.name

    @property
    def job_id(self) -> str:
        return self._ctx.job.id

    @property
    def console(self) -> bool:
        return self._ctx.is_fake_job()

    @property
    def assigned_at(self) -> float | None:
        # Private on purpose: livekit-agents 1.8 keeps the dispatch timeline (`assigned_at`,
        # when the server's assignment arrived) only on JobContext._info (RunningJobInfo) and
        # has no public accessor; the time the entry point started would leave out the process
        # launch the spawner measures. Read defensively: if a release renames it, None.
        info = getattr(self._ctx, "_info", None)
        return getattr(info, "assigned_at", None) or None

    async def agents_ahead(self) -> list[str]:
        if self.console:
            return []
        return await agents_ahead_in_room(self._ctx, timeout_s=self._timeout_s)

    async def connect(self) -> None:
        await self._ctx.connect()

    def on_humans(self, joined: Callable[[str], object], left: Callable[[str], object]) -> None:
        room = self._ctx.room

        def connected(participant: rtc.RemoteParticipant) -> None:
            if human_kind(participant.kind):
                joined(participant.identity)

        room.on("participant_connected", connected)
        room.on("participant_disconnected", lambda p: left(p.identity))
        for participant in room.remote_participants.values():
            connected(participant)

    def on_disconnected(self, callback: Callable[[], object]) -> None:
        self._ctx.room.on("disconnected", lambda *_: callback())

    async def start(self, session: AgentSession[Any], agent: Agent, options: RoomOptions) -> None:
        await session.start(agent, room=self._ctx.room, room_options=options)

    async def publish(self, attributes: dict[str, str]) -> None:
        room = self._ctx.room
        if not room.isconnected():
            return
        try:
            await asyncio.wait_for(
                room.local_participant.set_attributes(attributes), self._timeout_s
            )
        except Exception as exc:  # the room is going away; the attributes go with it
            log.warning("lifecycle_not_published", error=f"{type(exc).__name__}: {exc}")

    async def send_text(self, text: str, *, topic: str = "") -> None:
        await self._ctx.room.local_participant.send_text(text, topic=topic)

    async def tell(self, code: SpawnerErrorCode, agent_id: UUID | None) -> None:
        ctx = self._ctx
        await tell_room(ctx.api, ctx.room, self.name, code, agent_id, timeout_s=self._timeout_s)

    async def delete(self) -> None:
        if self.console:
            return
        delete = self._ctx.api.room.delete_room(api.DeleteRoomRequest(room=self.name))
        await best_effort("room_not_deleted", asyncio.wait_for(delete, self._timeout_s))

    def shutdown(self, reason: str) -> None:
        self._ctx.shutdown(reason)


class Call(ABC):
    """One job's call. Subclasses give `prepare`, `build` and `drive`, and may use the other
    hooks; `run` is the skeleton and `end` the one way a call ends."""

    def __init__(
        self,
        room: CallRoom,
        runtime: Runtime,
        settings: Settings,
        metadata: DispatchMetadata | None,
        *,
        agent_id: UUID | None = None,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        """`metadata`: the dispatch's (an agent room's job may come without); `agent_id`: the
        agent the job is for, when the routing rule found it elsewhere (the room's name)."""
        self.room = room
        self.runtime = runtime
        self.settings = settings
        self.metadata = metadata
        self.agent_id = (
            agent_id if agent_id is not None else metadata.agent_id if metadata else None
        )
        self._draining = draining
        self.started = time.monotonic()
        self.end_reason: EndReason | None = None
        self.error: str | None = None
        self.ended_at: datetime | None = None
        self._notice: SpawnerErrorCode | None = None
        self._ended = asyncio.Event()
        self._timers: list[asyncio.Task[None] | asyncio.TimerHandle] = []

    @classmethod
    async def for_job(
        cls,
        ctx: JobContext,
        settings: Settings,
        metadata: DispatchMetadata | None,
        *,
        agent_id: UUID | None = None,
        draining: Callable[[], bool],
    ) -> Self:
        """The call of a LiveKit job, on the process runtime (opened on first use, in a thread:
        it blocks until the store is open)."""
        runtime = await asyncio.to_thread(Runtime.shared, settings)
        room = JobRoom(ctx, timeout_s=settings.livekit_api_timeout_s)
        return cls(room, runtime, settings, metadata, agent_id=agent_id, draining=draining)

    # --- the worker's own ----------------------------------------------------------------------

    @abstractmethod
    async def prepare(self) -> NewCallSession:
        """What this call runs, as its session record (`session_record`); raise `Refused` to
        refuse it. Runs before the room connects."""

    @abstractmethod
    def build(self, session_id: UUID) -> tuple[Agent, AgentSession[Any]]:
        """The agent and its session, before the room connects."""

    @abstractmethod
    async def drive(self, agent: Agent, session: AgentSession[Any]) -> None:
        """Starts the session (`room.start`) and returns once the call has ended (`end`)."""

    def on_end(self, reason: EndReason) -> datetime | None:
        """The call ends for `reason`: when its conversation ended, if earlier than now."""
        return None

    async def finish(self, session: AgentSession[Any]) -> str | None:
        """The worker's last writes before the end is recorded; the call's summary, if any."""
        return None

    def recorded(self, end: CallEnd) -> None:
        """The end was recorded (or spooled)."""
        return None

    def left(self, ahead: list[str]) -> None:
        """The job left before its call started: `ahead` serve the room."""
        return None

    # --- the skeleton --------------------------------------------------------------------------

    async def until_ended(self) -> None:
        await self._ended.wait()

    def end(
        self, reason: EndReason, error: str | None = None, *, notice: SpawnerErrorCode | None = None
    ) -> None:
        """Ends the call for `reason`, unless it already ends for another: the first wins.
        `notice` is what the room is told about it."""
        if self.end_reason is not None:
            return
        self.end_reason, self.error, self._notice = reason, error, notice
        self.ended_at = self.on_end(reason) or datetime.now(UTC)
        log.info("call_ending", end_reason=reason)
        self._ended.set()

    def session_record(
        self,
        *,
        agent_id: UUID | None,
        owner_id: UUID | None = None,
        ran: RunTarget | None = None,
        draft_version: int | None = None,
    ) -> NewCallSession:
        """This job's row: the one the backend opened with the room if the dispatch names it
        (recording the start then claims it for this job), else a new one."""
        return call_record(
            self.room.name,
            self.metadata,
            deployment=self.settings.platform_env,
            agent_id=agent_id,
            owner_id=owner_id,
            ran=ran,
            draft_version=draft_version,
            job_id=self.room.job_id,
        )

    async def run(self) -> None:
        if ahead := await self.room.agents_ahead():
            self.left(ahead)
            self.room.shutdown("another agent serves this room")
            return
        try:
            record = await self.prepare()
            if not self.settings.openai_api_key.get_secret_value():
                # A dev platform started without a model: say so instead of a silent agent.
                raise Refused(
                    SpawnerErrorCode.NO_MODEL_CONFIGURED,
                    "OPENAI_API_KEY is not set",
                    agent_id=record.agent_id,
                    owner_id=record.owner_id,
                )
        except Refused as refused:
            await self._refuse(refused)
            return
        session_id = await self.runtime.call(self.runtime.recorder.start(record))
        agent, session = self.build(session_id)
        turns = TurnLatencies.watch(session)
        try:
            await self._converse(agent, session)
        finally:
            await self._finish(session_id, session, turns)

    async def _refuse(self, refused: Refused) -> None:
        log.warning("agent_refused", code=refused.code, detail=str(refused))
        if refused.code is not None:
            await self.room.tell(refused.code, self.agent_id)
        recorder = self.runtime.recorder
        record = self.session_record(agent_id=refused.agent_id, owner_id=refused.owner_id)
        session_id = await self.runtime.call(recorder.start(record))
        end = call_end(session_id, EndReason.ERROR, error=refused.error)
        await self.runtime.call(recorder.finish(end))
        self.recorded(end)
        self.room.shutdown(f"agent refused: {refused.code or refused}")

    async def _converse(self, agent: Agent, session: AgentSession[Any]) -> None:
        try:
            await self.room.connect()
            if ahead := await self.room.agents_ahead():
                # Both joined at once and the other was first: it serves the caller.
                self.end(EndReason.SHUTDOWN, f"another agent serves this room: {', '.join(ahead)}")
                return
            self._watch(session)
            await self.drive(agent, session)
        except asyncio.CancelledError:
            # The worker is closing (drain timeout, SIGTERM in dev): LiveKit cancels a job's
            # entry point that outlives its shutdown grace. The call ends here, recorded.
            self.end(EndReason.SHUTDOWN)
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("call_failed", error=error)
            self.end(EndReason.ERROR, error)
            raise

    def _watch(self, session: AgentSession[Any]) -> None:
        self.room.on_disconnected(lambda: self.end(EndReason.USER_HANGUP))
        session.on("close", self._session_closed)
        loop = asyncio.get_running_loop()
        limit = self.settings.max_call_duration_s
        self._timers.append(loop.call_later(limit, self.end, EndReason.MAX_DURATION))
        self._timers.append(loop.create_task(self._end_at_drain_deadline()))

    def _session_closed(self, event: CloseEvent) -> None:
        reason = end_reason_of(event)
        if event.error is None:
            self.end(reason)
            return
        # The model went away for good (the plugin's reconnects are spent): the caller is told
        # why the agent stops talking, and the call counts as failed.
        error = f"model: {event.error.error!r}"
        log.error("model_failed", error=error)
        self.end(reason, error, notice=SpawnerErrorCode.MODEL_UNAVAILABLE)

    async def _end_at_drain_deadline(self) -> None:
        """Ends the call as `shutdown` when the worker's drain timeout runs out.

        livekit-agents 1.8 tells a running job nothing when its worker starts draining, and once
        the drain timeout has passed it waits a fixed 15 s more before it cancels the entry
        point (`ipc/job_proc_lazy_main._shutdown_job`). So the call watches the worker's public
        `draining` flag itself and ends a second before the deadline, leaving time to write its
        records before the worker closes. With the process executor the flag is the job
        process's own and never set: the worker's cancellation then ends the call, 15 s later."""
        timeout_s = self.settings.worker_drain_timeout_s
        if timeout_s == 0:  # no drain timeout: the worker waits for every call to end by itself
            return
        while not self._draining():  # noqa: ASYNC110 (a flag the SDK sets; it offers no event)
            await asyncio.sleep(DRAIN_POLL_S)
        log.info("worker_draining", call_ends_in_s=max(0.0, timeout_s - DRAIN_MARGIN_S))
        await asyncio.sleep(max(0.0, timeout_s - DRAIN_MARGIN_S))
        self.end(EndReason.SHUTDOWN)

    async def _finish(
        self, session_id: UUID, session: AgentSession[Any], turns: TurnLatencies
    ) -> None:
        for timer in self._timers:
            timer.cancel()
        if self.end_reason is None:  # a drive that returned before its call ended: a bug
            self.end(EndReason.ERROR, "the call stopped without an end")
        assert self.end_reason is not None
        # The pages show the call as ending from now on, while the summary is still written.
        await self.runtime.call(self.runtime.recorder.ending(session_id))
        if self._notice is not None:
            await self.room.tell(self._notice, self.agent_id)
        # The records below matter more than a clean close: a failing close is logged, not fatal.
        await best_effort("session_not_closed", session.aclose())
        try:
            summary = await self.finish(session)
        except Exception as exc:
            log.error("call_not_finished", error=f"{type(exc).__name__}: {exc}")
            summary = None
        end = call_end(
            session_id,
            self.end_reason,
            session,
            error=self.error,
            summary=summary,
            ended_at=self.ended_at,
            turns=turns.turns(session.history),
        )
        await self.runtime.call(self.runtime.recorder.finish(end))
        log.info("call_ended", end_reason=end.end_reason, status=end.status)
        self.recorded(end)
        if end.end_reason in DELETE_ROOM_ON:
            await self.room.delete()
        self.room.shutdown(f"call ended: {end.end_reason}")
