"""The workers the backend can dispatch to, from their heartbeats (`shared.contracts.workers`).

Admission asks `WorkerCensus.shortage` before it makes a room: with no live worker of the room's
kind, or every live one full, livekit-server would drop the dispatch and the caller would sit
in a silent room; the caller is told at once instead (503 with Retry-After, in the same
sentences the dashboard shows). Full workers refuse rather than queue: a person is waiting on
the other end, "try again in a moment" is honest, and a room nobody will serve would still hold
one of the MAX_TOTAL_AGENTS places. A dispatch dropped in the gap between a heartbeat and the
server (a worker that just died, or just filled up) is the reconciler's to heal: `watch` wakes
it as soon as a worker gains room.

A positive answer is reused for FLEET_TTL_S (spawns are frequent, workers change slowly); a
refusal is always read afresh, so a worker that registered a moment ago is never refused for
a stale read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from backend.metrics import Metrics
from backend.problems import Problem
from shared import deadline
from shared.contracts.dispatch import SessionKind
from shared.contracts.workers import SHORTAGE_MESSAGES, Fleet, Shortage
from shared.logging import get_logger
from shared.naming import WorkerRole
from shared.settings import Settings
from shared.store import AgentStore, StoreError

log = get_logger(__name__)

FLEET_TTL_S = 0.5
# What admission spends, at most, asking the store which workers are alive: this long, and no
# more than this share of what is left of the request's budget (the rest is LiveKit's).
CENSUS_TIMEOUT_S = 1.0
CENSUS_BUDGET_SHARE = 0.25
# How often each replica reads the heartbeats for a worker that gained room (the pass it then
# asks for runs on the reconciler lease's holder only).
WATCH_INTERVAL_S = 0.5
# What a refused caller is told to wait: about one heartbeat's worth for a place to free, longer
# for a worker to start.
RETRY_AFTER_S: dict[Shortage, int] = {Shortage.NO_WORKER: 10, Shortage.ALL_BUSY: 3}


class WorkerCensus:
    def __init__(
        self,
        settings: Settings,
        store: AgentStore,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._deployment = settings.platform_env
        self._agent_names = {role: settings.worker_agent_name(role) for role in WorkerRole}
        self._clock = clock
        self._fleet: Fleet | None = None
        self._read_at = 0.0
        self._reading: asyncio.Future[Fleet] | None = None

    async def fleet(self, *, fresh: bool = False) -> Fleet:
        """The live workers; a read younger than FLEET_TTL_S is reused unless `fresh`."""
        if not fresh and self._fleet is not None and self._clock() - self._read_at <= FLEET_TTL_S:
            return self._fleet
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
            self._reading.add_done_callback(self._done)
        # Shielded: one caller giving up does not cancel the others' read.
        return await asyncio.shield(self._reading)

    async def _read(self) -> Fleet:
        fleet = Fleet.of(
            await self._store.live_workers(),
            deployment=self._deployment,
            agent_names=self._agent_names,
        )
        self._fleet, self._read_at = fleet, self._clock()
        return fleet

    def _done(self, reading: asyncio.Future[Fleet]) -> None:
        self._reading = None
        if not reading.cancelled():
            reading.exception()  # retrieved here: every waiter already got it

    async def shortage(self, role: WorkerRole) -> Shortage | None:
        """Why a room served by `role` would get no agent now, or None."""
        if (await self.fleet()).refusal(role) is None:
            return None
        return (await self.fleet(fresh=True)).refusal(role)

    async def watch(self, on_gain: Callable[[], None]) -> None:
        """Calls `on_gain` whenever a worker gains room (registers, or a place frees): a room
        whose dispatch was dropped or refused can be served now. Runs until cancelled."""
        seen: dict[WorkerRole, datetime | None] = {}
        while True:
            try:
                fleet = await self.fleet(fresh=True)
            except StoreError as exc:
                log.warning("worker_census_failed", error=str(exc))
            else:
                latest = {role: fleet.available_since(role) for role in WorkerRole}
                gained = [role for role in WorkerRole if _later(latest[role], seen.get(role))]
                if seen and gained:
                    log.info("worker_gained_room", roles=[r.value for r in gained])
                    on_gain()
                seen = latest
            await asyncio.sleep(WATCH_INTERVAL_S)


def _census_timeout_s() -> float:
    left = deadline.time_left()
    return CENSUS_TIMEOUT_S if left is None else min(CENSUS_TIMEOUT_S, left * CENSUS_BUDGET_SHARE)


def _later(since: datetime | None, before: datetime | None) -> bool:
    return since is not None and (before is None or since > before)


async def refuse_without_worker(
    workers: WorkerCensus | None, metrics: Metrics, kind: SessionKind
) -> None:
    """503 with Retry-After, before any room is made, when no worker could serve `kind`."""
    if workers is None:
        return
    try:
        with deadline.budget(_census_timeout_s()):
            shortage = await workers.shortage(kind.room_kind.role)
    except StoreError as exc:
        # Not knowing is no reason to refuse: the room is made as before the census, and a
        # dispatch dropped meanwhile is healed by the reconciler. Bounded, so the request's
        # budget is left for LiveKit (a Voxie session reads nothing else from the store).
        log.warning("worker_census_unreadable", error=str(exc))
        return
    if shortage is None:
        return
    metrics.spawns_refused.labels(shortage.value).inc()
    raise Problem(
        503,
        shortage.value,
        SHORTAGE_MESSAGES[shortage],
        headers={"Retry-After": str(RETRY_AFTER_S[shortage])},
    )
