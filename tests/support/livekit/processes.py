"""Real livekit-agents worker processes (`agent_worker.py`) started against the double."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from tests.support.livekit.double import LiveKitDouble
from tests.support.processes import ServiceProcess


class WorkerProcess(ServiceProcess):
    """One `python -m tests.support.livekit.agent_worker start` subprocess."""

    def __init__(
        self,
        livekit: LiveKitDouble,
        directory: Path,
        *,
        label: str,
        agent_name: str,
        load: float | None = None,
        accept_all: bool = False,
    ) -> None:
        self.agent_name = agent_name
        self.log_path = directory / f"{label}.jsonl"
        self.log_path.touch()
        env = {
            **livekit.env(),
            "TEST_AGENT_NAME": agent_name,
            "TEST_WORKER_LABEL": label,
            "TEST_WORKER_LOG": str(self.log_path),
        }
        if load is not None:
            env["TEST_WORKER_LOAD"] = str(load)
        if accept_all:
            env["TEST_ACCEPT_ALL"] = "1"
        super().__init__(
            ["-m", "tests.support.livekit.agent_worker", "start"], directory, label=label, env=env
        )

    def events(self, event: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """What the worker recorded, optionally only one kind of event with given fields."""
        found = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            record: dict[str, Any] = json.loads(line)
            if event is not None and record["event"] != event:
                continue
            if all(record.get(key) == value for key, value in match.items()):
                found.append(record)
        return found


@contextlib.asynccontextmanager
async def serving(
    livekit: LiveKitDouble,
    processes: Mapping[str, ServiceProcess],
    agent_name: str,
    *,
    started_event: str,
) -> AsyncIterator[None]:
    """Until the block ends: every process registered with the double under `agent_name` and
    logged `started_event` (if one does not, the error carries each one's output), then all
    stopped."""
    try:
        try:
            await livekit.wait_for_workers(len(processes), agent_name, within=60)
            await livekit.wait_for(
                lambda: all(p.events(started_event) for p in processes.values()),
                what=f"{len(processes)} workers' {started_event}",
            )
        except TimeoutError as exc:
            tails = "\n".join(
                f"--- {p.label} ---\n{p.output()[-4000:]}" for p in processes.values()
            )
            raise AssertionError(f"the workers did not start:\n{tails}") from exc
        yield
    finally:
        for process in processes.values():
            process.stop()
