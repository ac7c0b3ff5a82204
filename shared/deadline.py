"""One budget for a whole piece of work, that every call leaving the process draws from.

The backend opens one per API request (`backend.app.RequestBudget`, BACKEND_REQUEST_BUDGET_S;
`/readyz` a shorter one of its own). The store's guard (`shared.store.guard`) and the LiveKit
client (`shared.rooms`) give each call the lesser of its own timeout and the time left, and
fail at once, without asking, when nothing is left. So a request that makes several calls in a
row — a webhook finalising a room's sessions, a spawn — answers within its budget as a whole,
not within one timeout per call. Work outside any budget (the workers' jobs, the reconciler's
background passes) keeps each call's own timeout.

    with budget(5.0):
        ...  # every store and LiveKit call in here, and in tasks started here, ends by then

The budget is a context variable: tasks started inside inherit it, other requests never see it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

# When the current budget runs out (time.monotonic, the clock asyncio's timeouts use too).
_ends: ContextVar[float | None] = ContextVar("budget_ends", default=None)


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[None]:
    """The work inside gets `seconds` at most — less if an enclosing budget ends sooner."""
    ends = time.monotonic() + seconds
    enclosing = _ends.get()
    token = _ends.set(ends if enclosing is None else min(enclosing, ends))
    try:
        yield
    finally:
        _ends.reset(token)


def time_left() -> float | None:
    """Seconds left in the current budget (0 once spent); None outside any budget."""
    ends = _ends.get()
    return None if ends is None else max(0.0, ends - time.monotonic())


def allowed(timeout_s: float) -> float:
    """How long a call whose own deadline is `timeout_s` may take now: never past the budget.
    0 means the budget is spent: the call must fail without being made."""
    left = time_left()
    return timeout_s if left is None else min(timeout_s, left)
