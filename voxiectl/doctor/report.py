"""What a doctor run produces: checks with a status, what was seen, and a one-line fix; and the
`Report` every check group adds to, which also holds the run's settings and options and runs each
check under its deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from shared.settings import Settings

T = TypeVar("T")


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a check result, not a password
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
            "data": self.data,
        }


@dataclass(frozen=True)
class Options:
    http_timeout_s: float = 5.0
    check_timeout_s: float = 30.0
    # How long a probe waits for the first worker's answer (LiveKit asks a worker within a
    # second; it gives one 10 s to answer), and then for the next ones to stop coming.
    probe_timeout_s: float = 12.0
    probe_settle_s: float = 2.0


def failed(checks: list[Check]) -> bool:
    return any(c.status is Status.FAIL for c in checks)


class Report:
    """The checks of one run, in the order they were made."""

    def __init__(self, settings: Settings, options: Options) -> None:
        self.settings = settings
        self.options = options
        self.checks: list[Check] = []

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def skip(self, name: str, why: str) -> None:
        self.checks.append(Check(name, Status.SKIP, f"not checked: {why}"))

    async def guarded(self, name: str, check: Callable[[], Awaitable[T]]) -> T | None:
        """Runs one check under its deadline; an unexpected error fails that check only."""
        try:
            async with asyncio.timeout(self.options.check_timeout_s):
                return await check()
        except TimeoutError:
            self.add(
                Check(name, Status.FAIL, f"no answer within {self.options.check_timeout_s:g} s")
            )
        except Exception as exc:
            self.add(Check(name, Status.FAIL, f"{type(exc).__name__}: {exc}"))
        return None
