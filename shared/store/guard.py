"""Every store round trip has a deadline, and a failing database makes callers fail fast.

Both stores run each database round trip through one `StoreGuard`:

- a deadline over the whole of it — getting a connection, the command and any retry — so a
  database that accepts connections and never answers costs a caller that long and no more
  (asyncpg's `pool.acquire()` has no timeout of its own; a retried command timeout would
  multiply it). It is STORE_TIMEOUT_S, or what is left of the caller's budget if that is less
  (`shared.deadline`: an API request's calls share one); with nothing left the call fails at
  once, without reaching the database and without counting for the breaker;
- a circuit breaker: after `FAILURES_TO_OPEN` round trips in a row time out, calls fail at
  once for `OPEN_S`; then one probe goes through (the others still fail at once), and its
  outcome closes the breaker or opens it again. Only timeouts count (a call cut short by its
  budget too: it waited on the database and got nothing): a database that refuses connections
  already fails fast, and the first call after it is back should succeed. Any other outcome —
  an answer, a refusal (not found, conflict), a refused connection — closes it.

The breaker is per process (per store object): each replica finds out for itself, within one
deadline or two.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from shared import deadline
from shared.logging import get_logger
from shared.store.errors import StoreTimedOut, StoreUnavailable

log = get_logger(__name__)

T = TypeVar("T")

FAILURES_TO_OPEN = 2
OPEN_S = 3.0


class StoreGuard:
    def __init__(
        self,
        timeout_s: float,
        *,
        failures_to_open: int = FAILURES_TO_OPEN,
        open_s: float = OPEN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self._failures_to_open = failures_to_open
        self._open_s = open_s
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        """Calls are being refused without reaching the database."""
        return self._open_until is not None

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        timeout_s = deadline.allowed(self.timeout_s)
        if timeout_s <= 0:
            raise StoreTimedOut("the time budget is spent; the database was not asked")
        probe = self._admit()
        try:
            async with asyncio.timeout(timeout_s):
                result = await call()
        except TimeoutError as exc:
            self._timed_out(probe)
            raise StoreTimedOut(f"the database did not answer within {timeout_s:.3g} s") from exc
        except StoreTimedOut:
            self._timed_out(probe)
            raise
        except Exception:  # an answer (not found, conflict) or a fast failure
            self._answered(probe)
            raise
        except BaseException:
            if probe:
                self._probing = False  # cancelled: let the next call probe
            raise
        self._answered(probe)
        return result

    def _admit(self) -> bool:
        """True if this call is the probe of an open breaker; raises while it must fail fast."""
        if self._open_until is None:
            return False
        if self._probing or self._clock() < self._open_until:
            raise StoreUnavailable("the database is not answering; not trying again for a moment")
        self._probing = True
        return True

    def _timed_out(self, probe: bool) -> None:
        self._failures += 1
        if probe:
            self._probing = False
        if probe or self._failures >= self._failures_to_open:
            if self._open_until is None:
                log.warning("store_breaker_open", failures=self._failures, open_s=self._open_s)
            self._open_until = self._clock() + self._open_s

    def _answered(self, probe: bool) -> None:
        if self._open_until is not None:
            log.info("store_breaker_closed")
        self._failures = 0
        self._open_until = None
        if probe:
            self._probing = False
