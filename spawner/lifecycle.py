"""The life of one call, as a small state machine: empty → starting → active ⇄ grace → closing.

The seeds' agent-manager rules, done per job instead of by a central manager:

- `empty`: the agent is assigned and nobody is there yet. If no human arrives within the grace
  period, the call closes (`grace_expired`): the dashboard gave up or the browser never joined.
- `starting`: the first human arrived; the session is being started.
- `active`: the conversation runs while at least one human is present.
- `grace`: the last human left; a timer runs for `GRACE_PERIOD_S`. A human rejoining cancels it
  (back to `active`); on expiry the call closes with `grace_expired`.
- `closing`: terminal; the first reason wins (grace_expired here; end_call, max duration,
  shutdown, error, ... from the call skeleton, `shared.call`). `ended_at` says when the
  conversation ended: the moment the last human left for a call that closes in grace, otherwise
  the moment it closed.

The machine is pure: it holds no tasks and reads time only through the injected clock, so tests
drive it with a fake one. `spawner.call.SpawnedCall` wires it to room events and its deadline,
closes it when the call ends for any reason, and publishes `snapshot()` as the agent
participant's attributes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from shared.contracts.sessions import EndReason


class Clock:
    """Monotonic seconds for deadlines and the wall clock for what is published."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Lifecycle:
    grace_period_s: float
    clock: Clock = field(default_factory=Clock)
    agent_id: UUID | None = None
    session_id: UUID | None = None
    deployment: str | None = None
    on_change: Callable[[Lifecycle], None] | None = None

    state: LifecycleState = field(default=LifecycleState.EMPTY, init=False)
    end_reason: EndReason | None = field(default=None, init=False)
    humans: set[str] = field(default_factory=set, init=False)
    grace_deadline: float | None = field(default=None, init=False)
    # When the conversation ended: set on closing. A call that closes in grace ended when the
    # last human left, not when the grace period ran out (the recorded duration is talk time).
    ended_at: datetime | None = field(default=None, init=False)
    _last_left_at: datetime | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        # Nobody may ever come: an empty room waits one grace period too.
        self.grace_deadline = self.clock.monotonic() + self.grace_period_s

    # --- events --------------------------------------------------------------------------------

    def human_joined(self, identity: str) -> LifecycleState:
        if self.state is LifecycleState.CLOSING:
            return self.state
        self.humans.add(identity)
        if self.state is LifecycleState.EMPTY:
            self._enter(LifecycleState.STARTING)
        elif self.state is LifecycleState.GRACE:
            self._enter(LifecycleState.ACTIVE)
        return self.state

    def session_started(self) -> LifecycleState:
        """The adapter finished starting the session for the first human."""
        if self.state is LifecycleState.STARTING:
            self._enter(LifecycleState.ACTIVE if self.humans else LifecycleState.GRACE)
        return self.state

    def human_left(self, identity: str) -> LifecycleState:
        self.humans.discard(identity)
        if not self.humans and self.state in (LifecycleState.STARTING, LifecycleState.ACTIVE):
            self._enter(LifecycleState.GRACE)
        return self.state

    def close(self, reason: EndReason) -> LifecycleState:
        """Ends the call for `reason`, unless it already ends for another (first reason wins)."""
        if self.state is not LifecycleState.CLOSING:
            self.end_reason = reason
            in_grace = self.state is LifecycleState.GRACE
            self.ended_at = self._last_left_at if in_grace else self.clock.now()
            self._enter(LifecycleState.CLOSING)
        return self.state

    def tick(self) -> LifecycleState:
        """Applies a deadline that has passed; the adapter calls it when `next_deadline` is due."""
        if self.state is LifecycleState.CLOSING:
            return self.state
        if self.grace_deadline is not None and self.clock.monotonic() >= self.grace_deadline:
            return self.close(EndReason.GRACE_EXPIRED)
        return self.state

    # --- queries -------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state is LifecycleState.CLOSING

    def next_deadline(self) -> float | None:
        """Monotonic time of the grace deadline, None while nobody waits for one."""
        return None if self.closed else self.grace_deadline

    def snapshot(self) -> AgentLifecycle:
        grace_ends_at = None
        if self.state is LifecycleState.GRACE and self.grace_deadline is not None:
            remaining = self.grace_deadline - self.clock.monotonic()
            grace_ends_at = self.clock.now() + timedelta(seconds=max(0.0, remaining))
        return AgentLifecycle(
            state=self.state,
            agent_id=self.agent_id,
            session_id=self.session_id,
            deployment=self.deployment,
            grace_ends_at=grace_ends_at,
        )

    def _enter(self, state: LifecycleState) -> None:
        self.state = state
        if state is LifecycleState.GRACE:
            self.grace_deadline = self.clock.monotonic() + self.grace_period_s
            self._last_left_at = self.clock.now()
        elif state is not LifecycleState.EMPTY:
            self.grace_deadline = None
        if self.on_change is not None:
            self.on_change(self)
