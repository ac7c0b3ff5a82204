"""The reconciler's thresholds, which the doctor reports by too: at the edges the settings set."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from livekit.protocol import models

from shared.naming import agent_room_name, parse_room_name
from shared.reconciliation import STALE_SLACK_S, needs_agent, session_stuck, stale
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
