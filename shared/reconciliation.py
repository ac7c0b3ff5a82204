"""When a room or a session needs the reconciler: the thresholds of the backend's reconciler
(`backend.reconciler`, which acts on them) and of `voxiectl doctor` (which reports what the
reconciler has not fixed), in one place so the two cannot disagree.

Every threshold is read against the room census (`shared.room_census`) and the settings:

- a room needs an agent when people are in it, no agent is, and it is AGENT_STARTUP_TIMEOUT_S
  old; it is re-dispatched while a dispatch younger than that is not already pending, at most
  `MAX_REDISPATCHES` times, then closed;
- a room whose dispatch no worker took is re-dispatched as soon as a worker gained room after
  its first dispatch (`redispatch_dropped_in`), not after the startup timeout;
- a room is stale when nobody has been in it for longer than its own timeouts say LiveKit
  should have taken to close it, plus `STALE_SLACK_S`;
- an open session is lost when its room is gone (or another agent's session runs there), unless
  it started within `SESSION_SLACK_S` of the room listing; the doctor calls one stuck when two
  reconciler passes and a startup have gone by without that happening, or when it has run past
  the longest a call may last.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from livekit import api
from livekit.protocol import models

from shared.room_census import RoomState
from shared.settings import Settings

MAX_REDISPATCHES = 3
# A room is deleted only this long after LiveKit itself should have closed it.
STALE_SLACK_S = 10.0
# Sessions that started this close to the room listing may belong to a room made after it.
SESSION_SLACK_S = 5.0
# A slot this much older than the longest a room creation can take, beyond the room listing, is
# for a room that is not coming.
SLOT_SLACK_S = 5.0
# A dispatch without a job may still be on its way to a worker this long (psrpc's 200 ms pick,
# the worker's answer on a busy machine); only an older one is taken as dropped.
DISPATCH_SETTLE_S = 2.0


def redispatch_dropped_in(
    dispatches: list[api.AgentDispatch], gained: datetime | None, now: float
) -> float | None:
    """When a room with people and no agent is dispatched again because livekit-server dropped
    or refused its dispatch (no worker registered, or every one full; it never retries): 0 now,
    a positive wait while its newest dispatch may still be on its way to a worker, None when it
    is not (a worker took one of its dispatches — the agent is coming, or its worker was lost,
    which is the startup timeout's case; no worker gained room (`gained`, from the heartbeats)
    since its first dispatch; or the re-dispatches are spent). No worker ever took a dispatch
    of a room given one more here, so a room never gets a second agent this way."""
    if gained is None or not dispatches or any(d.state.jobs for d in dispatches):
        return None
    if redispatches_spent(dispatches):
        return None
    created = sorted(d.state.created_at / 1e9 for d in dispatches)
    if gained.timestamp() <= created[0]:
        return None  # refused by workers that have not changed since the room was made
    return max(0.0, DISPATCH_SETTLE_S - (now - created[-1]))


def needs_agent(state: RoomState, now: float, settings: Settings) -> bool:
    """People wait in the room, no agent is there, and its agent had time to start."""
    return (
        bool(state.humans)
        and not state.agents
        and state.age_s(now) >= settings.agent_startup_timeout_s
    )


def dispatch_pending(dispatches: list[api.AgentDispatch], now: float, settings: Settings) -> bool:
    """The room's newest dispatch is still within its startup time."""
    newest = max((d.state.created_at for d in dispatches), default=0) / 1e9
    return bool(newest) and now - newest < settings.agent_startup_timeout_s


def redispatches_spent(dispatches: list[api.AgentDispatch]) -> bool:
    """The first dispatch and `MAX_REDISPATCHES` more brought no agent: close the room."""
    return len(dispatches) > MAX_REDISPATCHES


def stale(room: models.Room, quiet_for_s: float) -> bool:
    """Nobody has been in `room` for `quiet_for_s`, longer than LiveKit should have kept it."""
    return quiet_for_s >= max(room.empty_timeout, room.departure_timeout) + STALE_SLACK_S


def slot_expiry_s(settings: Settings) -> float:
    """How old an agent-room slot whose room LiveKit does not list must be to be released: the
    longest a room creation can take (a store write, then LiveKit's answer), and a margin."""
    return settings.livekit_api_timeout_s + settings.store_timeout_s + SLOT_SLACK_S


def may_be_lost(started_at: datetime, listed_at: datetime) -> bool:
    """A session old enough that its room must be in a listing taken at `listed_at`."""
    return started_at <= listed_at - timedelta(seconds=SESSION_SLACK_S)


def session_stuck(started_at: datetime, room_live: bool, now: datetime, settings: Settings) -> bool:
    """An open session the reconciler should have finalised by `now`: its room is gone and two
    passes and a startup went by, or it has run past the longest call plus grace and a pass."""
    age = now - started_at
    vanished_after = timedelta(
        seconds=2 * settings.gc_interval_s + settings.agent_startup_timeout_s
    )
    too_long = timedelta(
        seconds=settings.max_call_duration_s + settings.grace_period_s + settings.gc_interval_s
    )
    return (not room_live and age > vanished_after) or age > too_long
