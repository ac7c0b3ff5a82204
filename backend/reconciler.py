"""The reconciler: what self-hosted LiveKit does not do for the platform's rooms.

Every GC_INTERVAL_S (sooner when a webhook says an agent left), in exactly one backend replica —
the holder of the `backend-reconciler` lease in the store — one pass over the platform's rooms:

The thresholds are `shared.reconciliation`'s (the doctor reports by the same ones):

- humans present, no agent, the room older than AGENT_STARTUP_TIMEOUT_S and no dispatch newer
  than that → dispatch again (LiveKit drops a dead worker's jobs); after `MAX_REDISPATCHES`
  re-dispatches the room is closed instead, and the people in it are told why on the data
  topic `platform.room_closed` (see `shared.contracts.room_messages`);
- humans present, no agent, no worker ever took the room's dispatch (LiveKit lists no job for
  it) and a worker gained room after that dispatch (registered, or a place freed:
  `WorkerHeartbeat.available_since`) → dispatch again at once, not after the startup timeout:
  livekit-server dropped it (no worker registered) or refused it (every worker full) and never
  retries (`backend.workers.WorkerCensus.watch` runs a pass as soon as a worker gains room);
- more than one agent in a room → remove all but the oldest (a second voice is never right;
  `shared.presence` is the rule, the one the agents apply themselves);
- no humans for longer than the room's own timeouts say LiveKit should have taken to close it,
  and no agent within a grace period → delete the room;
- session rows still open whose room no longer exists → finalise them with end_reason `lost`;
- agent-room slots (MAX_TOTAL_AGENTS) whose room LiveKit does not list → release them.

Every LiveKit call has LIVEKIT_API_TIMEOUT_S (see `shared.rooms`) and every store call
STORE_TIMEOUT_S, so a hung dependency fails the pass, which the next interval retries; a pass
run for `POST /api/gc` also ends within that request's budget (`shared.deadline`).

Every action is logged with the room and counted in `voxie_backend_reconciler_actions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from livekit import api
from livekit.protocol import models

from backend.metrics import Metrics
from backend.workers import WorkerCensus
from shared.contracts import CallSession, EndReason, SessionStatus
from shared.contracts.dispatch import OPERATOR, DispatchMetadata, SessionKind
from shared.contracts.lifecycle import LifecycleState
from shared.contracts.room_messages import PLATFORM_ROOM_CLOSED, RoomClosed, RoomClosedCode
from shared.contracts.sessions import NO_AGENT
from shared.logging import bind_log_context, get_logger
from shared.naming import RoomKind
from shared.reconciliation import (
    DISPATCH_SETTLE_S,
    MAX_REDISPATCHES,
    dispatch_pending,
    may_be_lost,
    needs_agent,
    redispatch_dropped_in,
    redispatches_spent,
    slot_expiry_s,
    stale,
)
from shared.room_census import RoomState, room_states
from shared.rooms import LiveKitError, RoomGone, Rooms
from shared.settings import Settings
from shared.store import AgentStore, StoreError
from shared.store.base import MAX_PAGE_SIZE

log = get_logger(__name__)

LEASE_NAME = "backend-reconciler"

AGENT_UNAVAILABLE_MESSAGE = "No agent could be started for this call. Please try again in a minute."


@dataclass(frozen=True, slots=True)
class Action:
    action: str
    room: str
    detail: str = ""


@dataclass
class PassReport:
    rooms: int = 0
    open_sessions: int = 0
    actions: list[Action] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "rooms": self.rooms,
            "open_sessions": self.open_sessions,
            "actions": [asdict(a) for a in self.actions],
        }


def closing_message(code: RoomClosedCode, message: str) -> bytes:
    return RoomClosed(code=code, message=message).to_json().encode()


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        store: AgentStore,
        rooms: Rooms,
        metrics: Metrics,
        *,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
        workers: WorkerCensus | None = None,
    ) -> None:
        self.settings = settings
        self.workers = workers
        self.store = store
        self.rooms = rooms
        self.metrics = metrics
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.lease_ttl_s = max(3 * settings.gc_interval_s, 15.0)
        self._empty_since: dict[str, float] = {}
        self._nudged = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._leader = False

    # --- scheduling ----------------------------------------------------------------------------

    def nudge(self) -> None:
        """Run the next pass now rather than at the end of the interval."""
        self._nudged.set()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.try_pass()
            except (StoreError, LiveKitError) as exc:
                self.metrics.reconciler_passes.labels("failed").inc()
                log.warning("reconciler_pass_failed", error=str(exc), kind=type(exc).__name__)
            except Exception:
                self.metrics.reconciler_passes.labels("failed").inc()
                log.exception("reconciler_pass_crashed")
            self._nudged.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudged.wait(), self.settings.gc_interval_s)

    async def try_pass(self) -> PassReport | None:
        """One pass if this replica holds (or takes) the lease; None if another replica does."""
        leader = await self.store.acquire_lease(LEASE_NAME, self.holder, self.lease_ttl_s)
        if leader != self._leader:
            log.info("reconciler_lease", held=leader, holder=self.holder)
            self._leader = leader
        self.metrics.reconciler_leader.set(1 if leader else 0)
        if not leader:
            self._empty_since.clear()  # another replica's observations are its own
            self.metrics.reconciler_passes.labels("not_leader").inc()
            return None
        async with self._pass_lock:
            report = await self.run_pass()
        self.metrics.reconciler_passes.labels("done").inc()
        return report

    async def release(self) -> None:
        with contextlib.suppress(StoreError):
            await self.store.release_lease(LEASE_NAME, self.holder)
        self._leader = False
        self.metrics.reconciler_leader.set(0)

    # --- one pass ------------------------------------------------------------------------------

    async def run_pass(self) -> PassReport:
        listed = await self.rooms.list_rooms()
        listed_at = self.clock()
        await self._release_lost_slots(listed)
        states = await room_states(self.rooms, listed)
        report = PassReport(rooms=len(states))
        for kind in RoomKind:
            self.metrics.platform_rooms.labels(kind.value).set(
                sum(1 for s in states if s.name.kind is kind)
            )
        for state in states:
            # A room that closed while we looked has nothing left to heal.
            with (
                bind_log_context(room=state.room.name, agent_id=state.name.agent_id),
                contextlib.suppress(RoomGone),
            ):
                await self._reconcile_room(state, report)
        live = {room.name for room in listed}
        for name in set(self._empty_since) - live:
            del self._empty_since[name]
        # A room's agent names the session it runs; an older open one there lost its worker.
        running = {
            s.room.name: s.lifecycle.session_id
            for s in states
            if s.lifecycle is not None and s.lifecycle.session_id is not None
        }
        await self._finalise_lost_sessions(live, running, listed_at, report)
        return report

    async def _release_lost_slots(self, listed: list[models.Room]) -> None:
        """Frees the MAX_TOTAL_AGENTS slots of rooms LiveKit no longer lists (ended without a
        webhook, or never made), sparing any young enough that its room may still be coming."""
        live = [room.name for room in listed]
        released = await self.store.release_agent_slots_except(
            live, older_than_s=slot_expiry_s(self.settings)
        )
        if released:
            self.metrics.reconciler_actions.labels("released_slot").inc(released)
            log.info("reconciler_action", action="released_slot", count=released)

    def _record(self, report: PassReport, action: str, room: str, detail: str) -> None:
        report.actions.append(Action(action, room, detail))
        self.metrics.reconciler_actions.labels(action).inc()
        log.info("reconciler_action", action=action, room=room, detail=detail)

    async def _reconcile_room(self, state: RoomState, report: PassReport) -> None:
        name = state.room.name
        for extra in state.extra_agents:
            await self.rooms.remove_participant(name, extra.identity)
            self._record(
                report,
                "removed_extra_agent",
                name,
                f"removed {extra.identity}, kept {state.agents[0].identity}",
            )
        now = self.clock()
        if state.humans:
            self._empty_since.pop(name, None)
            if needs_agent(state, now, self.settings):
                await self._heal_missing_agent(state, now, report)
            elif not state.agents:
                await self._heal_dropped_dispatch(state, now, report)
            return
        empty_since = self._empty_since.setdefault(name, now)
        lifecycle = state.lifecycle
        if (
            lifecycle is not None
            and lifecycle.state is LifecycleState.GRACE
            and lifecycle.grace_ends_at is not None
            and lifecycle.grace_ends_at.timestamp() > now
        ):
            return  # the agent is counting down its grace period; it closes the room itself
        quiet_for = now - max(state.created_at, empty_since)
        if stale(state.room, quiet_for):
            await self.rooms.delete(name)
            self._empty_since.pop(name, None)
            self._record(report, "deleted_stale_room", name, f"no humans for {quiet_for:.0f} s")

    async def _heal_missing_agent(self, state: RoomState, now: float, report: PassReport) -> None:
        name = state.room.name
        dispatches = await self.rooms.dispatches(name)
        if dispatch_pending(dispatches, now, self.settings):
            return
        if redispatches_spent(dispatches):
            await self.close_room(name, RoomClosedCode.AGENT_UNAVAILABLE, AGENT_UNAVAILABLE_MESSAGE)
            self._record(
                report,
                "closed_no_agent",
                name,
                f"no agent after {len(dispatches) - 1} re-dispatches",
            )
            return
        metadata = self._dispatch_metadata(state, dispatches)
        agent_name = self.settings.worker_agent_name(state.name.kind.role)
        await self.rooms.dispatch(name, agent_name, metadata)
        self._record(
            report,
            "redispatched",
            name,
            f"humans {len(state.humans)}, no agent; re-dispatch {len(dispatches)} of "
            f"{MAX_REDISPATCHES}",
        )

    async def _heal_dropped_dispatch(
        self, state: RoomState, now: float, report: PassReport
    ) -> None:
        """Re-dispatches a room whose dispatch no worker took, once a worker has gained room
        since the room's first dispatch (at most every DISPATCH_SETTLE_S, MAX_REDISPATCHES times,
        while none takes it). One job listed on any of its dispatches means a worker took it (the
        agent is on its way, or its worker was lost: the startup timeout's case), so a room is
        never given a second agent here."""
        if self.workers is None:
            return
        gained = (await self.workers.fleet()).available_since(state.name.kind.role)
        if gained is None:
            return  # no worker has room: nothing could take it now
        name = state.room.name
        dispatches = await self.rooms.dispatches(name)
        wait = redispatch_dropped_in(dispatches, gained, now)
        if wait is None:
            return
        if wait > 0:
            self._look_again(wait)  # perhaps still on its way to a worker
            return
        agent_name = self.settings.worker_agent_name(state.name.kind.role)
        await self.rooms.dispatch(name, agent_name, self._dispatch_metadata(state, dispatches))
        # The server may refuse this one too (it learns of a freed place up to 2.5 s after the
        # heartbeat says so, if the worker could not tell it at once): look again.
        self._look_again(DISPATCH_SETTLE_S)
        self._record(
            report,
            "redispatched_dropped",
            name,
            f"no worker took its dispatch; one gained room {now - gained.timestamp():.1f} s ago",
        )

    def _look_again(self, delay_s: float) -> None:
        asyncio.get_running_loop().call_later(delay_s, self.nudge)

    def _dispatch_metadata(self, state: RoomState, dispatches: list[api.AgentDispatch]) -> str:
        """The original dispatch's metadata, so the new agent serves the same request."""
        for dispatch in dispatches:
            if DispatchMetadata.parse(dispatch.metadata) is not None:
                return dispatch.metadata
        return DispatchMetadata(
            agent_id=state.name.agent_id,
            deployment=self.settings.platform_env,
            kind=SessionKind.default_for(state.name.kind),
            requested_by=state.humans[0].identity if state.humans else OPERATOR,
        ).to_json()

    async def close_room(self, name: str, code: RoomClosedCode, message: str) -> None:
        """Tells whoever is in the room why, then deletes it."""
        with contextlib.suppress(RoomGone):
            await self.rooms.send_data(name, PLATFORM_ROOM_CLOSED, closing_message(code, message))
        await self.rooms.delete(name)

    async def _finalise_lost_sessions(
        self, live: set[str], running: dict[str, uuid.UUID], listed_at: float, report: PassReport
    ) -> None:
        open_sessions: list[CallSession] = []
        offset = 0
        while True:
            page = await self.store.list_sessions(
                open_only=True, limit=MAX_PAGE_SIZE, offset=offset
            )
            open_sessions.extend(page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
        report.open_sessions = len(open_sessions)
        listed = datetime.fromtimestamp(listed_at, UTC)
        for session in open_sessions:
            if not may_be_lost(session.started_at, listed):
                continue
            replaced = running.get(session.room_name, session.id) != session.id
            if session.room_name in live and not replaced:
                continue
            await self.store.finish_session(
                session.id,
                end_reason=EndReason.LOST,
                status=SessionStatus.FAILED,
                error=NO_AGENT
                if session.job_id is None
                else "its worker was lost: the room ended, or another agent took it over, "
                "without the session being closed",
            )
            self._record(report, "finalised_lost_session", session.room_name, str(session.id))
