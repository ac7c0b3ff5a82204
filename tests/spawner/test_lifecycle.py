"""The call lifecycle state machine, driven by a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from shared.contracts import EndReason
from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from spawner.lifecycle import Clock, Lifecycle

GRACE = 60.0
EMPTY, STARTING, ACTIVE, GRACE_STATE, CLOSING = (
    LifecycleState.EMPTY,
    LifecycleState.STARTING,
    LifecycleState.ACTIVE,
    LifecycleState.GRACE,
    LifecycleState.CLOSING,
)


class FakeClock(Clock):
    def __init__(self) -> None:
        self.t = 1000.0
        self.wall = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.wall += timedelta(seconds=seconds)


def machine(clock: FakeClock, **values: object) -> tuple[Lifecycle, list[LifecycleState]]:
    seen: list[LifecycleState] = []
    lifecycle = Lifecycle(
        grace_period_s=GRACE,
        clock=clock,
        on_change=lambda m: seen.append(m.state),
        **values,  # type: ignore[arg-type]
    )
    return lifecycle, seen


def in_call(clock: FakeClock) -> tuple[Lifecycle, list[LifecycleState]]:
    lifecycle, seen = machine(clock)
    lifecycle.human_joined("user:1")
    lifecycle.session_started()
    return lifecycle, seen


def test_first_human_starts_the_session_and_the_call_becomes_active() -> None:
    clock = FakeClock()
    lifecycle, seen = machine(clock)
    assert lifecycle.state is EMPTY
    assert lifecycle.human_joined("user:1") is STARTING
    assert lifecycle.session_started() is ACTIVE
    assert seen == [STARTING, ACTIVE]
    assert lifecycle.grace_deadline is None


def test_leave_then_rejoin_within_the_grace_period_continues_the_call() -> None:
    clock = FakeClock()
    lifecycle, seen = in_call(clock)
    assert lifecycle.human_left("user:1") is GRACE_STATE
    clock.advance(GRACE - 1)
    assert lifecycle.tick() is GRACE_STATE
    assert lifecycle.human_joined("user:1") is ACTIVE
    clock.advance(GRACE * 5)
    assert lifecycle.tick() is ACTIVE  # the timer was cancelled
    assert lifecycle.end_reason is None
    assert seen == [STARTING, ACTIVE, GRACE_STATE, ACTIVE]


def test_leave_then_expiry_closes_the_call_as_grace_expired() -> None:
    clock = FakeClock()
    lifecycle, seen = in_call(clock)
    lifecycle.human_left("user:1")
    assert lifecycle.next_deadline() == clock.t + GRACE
    clock.advance(GRACE)
    assert lifecycle.tick() is CLOSING
    assert lifecycle.end_reason is EndReason.GRACE_EXPIRED
    assert lifecycle.next_deadline() is None
    # Closing is terminal: a late human changes nothing.
    assert lifecycle.human_joined("user:2") is CLOSING
    assert seen[-1] is CLOSING


def test_a_call_closing_in_grace_ended_when_the_last_human_left() -> None:
    clock = FakeClock()
    lifecycle, _ = in_call(clock)
    clock.advance(30)
    left_at = clock.wall
    lifecycle.human_left("user:1")
    clock.advance(GRACE)
    lifecycle.tick()
    assert lifecycle.end_reason is EndReason.GRACE_EXPIRED
    assert lifecycle.ended_at == left_at  # talk time, not talk time plus the grace period


def test_a_call_closing_in_grace_for_another_reason_also_ended_when_the_human_left() -> None:
    clock = FakeClock()
    lifecycle, _ = in_call(clock)
    left_at = clock.wall
    lifecycle.human_left("user:1")
    clock.advance(GRACE / 2)
    lifecycle.close(EndReason.SHUTDOWN)
    assert lifecycle.ended_at == left_at


def test_a_call_closing_with_humans_present_ends_when_it_closes() -> None:
    clock = FakeClock()
    lifecycle, _ = in_call(clock)
    lifecycle.human_left("user:1")
    clock.advance(GRACE / 2)
    lifecycle.human_joined("user:1")  # back: the earlier leave is not the end
    clock.advance(10)
    lifecycle.close(EndReason.END_CALL)
    closed_at = clock.wall
    assert lifecycle.ended_at == closed_at
    clock.advance(5)
    lifecycle.close(EndReason.SHUTDOWN)
    assert lifecycle.ended_at == closed_at  # the first close decides


def test_the_grace_timer_starts_only_when_the_last_human_leaves() -> None:
    clock = FakeClock()
    lifecycle, _ = in_call(clock)
    lifecycle.human_joined("user:2")
    assert lifecycle.human_left("user:1") is ACTIVE
    # However long the other human stays, the call does not close.
    clock.advance(GRACE * 2)
    assert lifecycle.tick() is ACTIVE
    assert lifecycle.human_left("user:2") is GRACE_STATE
    closes_after(lifecycle, clock, GRACE, EndReason.GRACE_EXPIRED)


def closes_after(lifecycle: Lifecycle, clock: FakeClock, seconds: float, reason: EndReason) -> None:
    """Still open just before `seconds`, closing for `reason` at it."""
    state = lifecycle.state
    clock.advance(seconds - 0.5)
    assert lifecycle.tick() is state
    clock.advance(0.5)
    assert lifecycle.tick() is CLOSING
    assert lifecycle.end_reason is reason


def test_a_room_nobody_joins_closes_after_one_grace_period() -> None:
    clock = FakeClock()
    lifecycle, _ = machine(clock)
    closes_after(lifecycle, clock, GRACE, EndReason.GRACE_EXPIRED)


def test_shutdown_closes_from_any_state_and_the_first_reason_wins() -> None:
    clock = FakeClock()
    lifecycle, _ = in_call(clock)
    assert lifecycle.close(EndReason.SHUTDOWN) is CLOSING
    lifecycle.close(EndReason.END_CALL)
    clock.advance(GRACE * 2)
    lifecycle.tick()
    assert lifecycle.end_reason is EndReason.SHUTDOWN


def test_the_snapshot_is_what_the_backend_reads_from_the_participant() -> None:
    clock = FakeClock()
    agent_id, session_id = uuid4(), uuid4()
    lifecycle, _ = machine(clock, agent_id=agent_id, session_id=session_id, deployment="prod")
    lifecycle.human_joined("user:1")
    lifecycle.session_started()
    clock.advance(5)
    lifecycle.human_left("user:1")
    clock.advance(12)
    attributes = lifecycle.snapshot().to_attributes()
    published = AgentLifecycle.from_attributes(attributes)
    assert published is not None
    assert (published.state, published.agent_id, published.session_id, published.deployment) == (
        GRACE_STATE,
        agent_id,
        session_id,
        "prod",
    )
    assert published.grace_remaining_s(clock.wall) == GRACE - 12
    lifecycle.human_joined("user:1")
    assert lifecycle.snapshot().to_attributes()["platform.grace_ends_at"] == ""
