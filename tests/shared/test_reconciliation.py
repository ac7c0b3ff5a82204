"""The reconciler's thresholds, which the doctor reports by too: at the edges the settings set."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from livekit import api
from livekit.protocol import models

from shared.naming import agent_room_name, parse_room_name
from shared.reconciliation import (
    DISPATCH_SETTLE_S,
    MAX_REDISPATCHES,
    STALE_SLACK_S,
    needs_agent,
    redispatch_dropped_in,
    session_stuck,
    stale,
)
from shared.room_census import RoomState
from tests.conftest import make_settings

CREATED = 1_800_000_000.0


def room(*, humans: int, agents: int) -> RoomState:
    name = agent_room_name(uuid.uuid4())
    parsed = parse_room_name(name)
    assert parsed is not None
    human = models.ParticipantInfo(identity="user:a", kind=models.ParticipantInfo.Kind.STANDARD)
    agent = models.ParticipantInfo(identity="agent-a", kind=models.ParticipantInfo.Kind.AGENT)
    return RoomState(
        room=models.Room(name=name, creation_time=int(CREATED)),
        name=parsed,
        humans=[human] * humans,
        agents=[agent] * agents,
    )


def test_a_room_needs_an_agent_once_its_startup_time_is_up() -> None:
    settings = make_settings(agent_startup_timeout_s=30)
    waiting = room(humans=1, agents=0)
    assert not needs_agent(waiting, CREATED + 29.9, settings)
    assert needs_agent(waiting, CREATED + 30, settings)  # the reconciler acts at the timeout
    assert not needs_agent(room(humans=1, agents=1), CREATED + 300, settings)
    assert not needs_agent(room(humans=0, agents=0), CREATED + 300, settings)
    assert room(humans=1, agents=2).extra_agents and not room(humans=1, agents=1).extra_agents


def test_a_room_is_stale_after_its_own_timeouts_and_the_slack() -> None:
    lingering = models.Room(empty_timeout=300, departure_timeout=60)
    assert not stale(lingering, 300 + STALE_SLACK_S - 0.1)
    assert stale(lingering, 300 + STALE_SLACK_S)


def test_a_session_is_stuck_after_two_passes_and_a_startup_or_past_the_longest_call() -> None:
    settings = make_settings(
        gc_interval_s=30, agent_startup_timeout_s=30, max_call_duration_s=600, grace_period_s=60
    )
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    vanished = 2 * 30 + 30
    assert not session_stuck(now - timedelta(seconds=vanished), False, now, settings)
    assert session_stuck(now - timedelta(seconds=vanished + 1), False, now, settings)
    assert not session_stuck(now - timedelta(seconds=vanished + 1), True, now, settings)
    longest = 600 + 60 + 30
    assert session_stuck(now - timedelta(seconds=longest + 1), True, now, settings)


def dispatch(at: float, *, taken: bool = False) -> api.AgentDispatch:
    state = api.AgentDispatchState(created_at=int(at * 1e9))
    if taken:
        state.jobs.append(api.Job(id="AJ_taken"))
    return api.AgentDispatch(agent_name="spawner-test", state=state)


def test_a_dispatch_no_worker_took_is_made_again_once_a_worker_gained_room_after_it() -> None:
    made = CREATED
    after = datetime.fromtimestamp(made + 1, UTC)
    before = datetime.fromtimestamp(made - 1, UTC)
    settled = made + DISPATCH_SETTLE_S
    assert redispatch_dropped_in([dispatch(made)], after, settled) == 0.0
    # Still perhaps on its way to a worker: wait out the rest of the settle time.
    assert redispatch_dropped_in([dispatch(made)], after, made + 0.5) == DISPATCH_SETTLE_S - 0.5
    # A worker took it (the agent is coming, or was lost: the startup timeout's case).
    assert redispatch_dropped_in([dispatch(made, taken=True)], after, settled) is None
    assert (
        redispatch_dropped_in([dispatch(made), dispatch(made + 3, taken=True)], after, made + 9)
        is None
    )
    # Nobody gained room since the room's first dispatch, or nobody has room at all.
    assert redispatch_dropped_in([dispatch(made)], before, settled) is None
    assert redispatch_dropped_in([dispatch(made)], None, settled) is None
    assert redispatch_dropped_in([], after, settled) is None
    # A re-dispatch refused again is tried again, measured from the newest, until they are spent.
    again = [dispatch(made), dispatch(made + 3)]
    assert redispatch_dropped_in(again, after, made + 3 + DISPATCH_SETTLE_S) == 0.0
    spent = [dispatch(made + i) for i in range(MAX_REDISPATCHES + 1)]
    assert redispatch_dropped_in(spent, after, made + 60) is None
