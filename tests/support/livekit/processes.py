"""Real livekit-agents worker processes (`agent_worker.py`) started against the double."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.livekit.double import LiveKitDouble

_REPO_ROOT = Path(__file__).resolve().parents[3]


class WorkerProcess:
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
        self.label = label
        self.agent_name = agent_name
        self.log_path = directory / f"{label}.jsonl"
        self.output_path = directory / f"{label}.out"
        self.log_path.touch()
        env = {
            **os.environ,
            **livekit.env(),
            "PYTHONPATH": str(_REPO_ROOT),
            "TEST_AGENT_NAME": agent_name,
            "TEST_WORKER_LABEL": label,
            "TEST_WORKER_LOG": str(self.log_path),
        }
        if load is not None:
            env["TEST_WORKER_LOAD"] = str(load)
        if accept_all:
            env["TEST_ACCEPT_ALL"] = "1"
        with self.output_path.open("wb") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.livekit.agent_worker", "start"],
                cwd=_REPO_ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
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

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                return self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
        return self._process.wait()
