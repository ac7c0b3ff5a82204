"""Real livekit-agents worker processes (`agent_worker.py`) started against the double: its own
protocol tests, and the backend reconciler's tests that need workers on the test clock."""

from __future__ import annotations

import json
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
