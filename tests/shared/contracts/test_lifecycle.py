"""Lifecycle attributes round-trip through LiveKit's string attributes; garbage reads as none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from shared.contracts.lifecycle import AgentLifecycle, LifecycleState


def test_round_trip_and_grace_remaining() -> None:
    now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    state = AgentLifecycle(
        state=LifecycleState.GRACE,
        agent_id=uuid4(),
        session_id=uuid4(),
        deployment="prod",
        grace_ends_at=now + timedelta(seconds=48),
    )
    attributes = state.to_attributes()
    assert all(isinstance(v, str) for v in attributes.values())
    assert AgentLifecycle.from_attributes({**attributes, "lk.agent_name": "x"}) == state
    assert state.grace_remaining_s(now) == 48


def test_a_later_state_clears_what_an_earlier_one_set() -> None:
    active = AgentLifecycle(state=LifecycleState.ACTIVE).to_attributes()
    assert active["platform.grace_ends_at"] == ""
    parsed = AgentLifecycle.from_attributes(active)
    assert parsed is not None and parsed.grace_ends_at is None
    assert parsed.grace_remaining_s(datetime.now(UTC)) is None


def test_missing_or_malformed_attributes_read_as_none() -> None:
    assert AgentLifecycle.from_attributes({}) is None
    assert AgentLifecycle.from_attributes({"platform.state": "dancing"}) is None
    assert (
        AgentLifecycle.from_attributes({"platform.state": "grace", "platform.agent_id": "x"})
        is None
    )
