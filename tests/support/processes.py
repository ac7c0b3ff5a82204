"""Real platform processes (`python -m spawner start`, `python -m backend`, ...) run by tests.

Each runs from the repository root with the test's environment plus what the test adds; its
stdout and stderr go to a file the test can read (`output()`), which pytest shows on failure
through the test's own assertion messages. With `terminal=True` they go to a pseudo-terminal
first, so the process sees what it sees when a person runs it in a shell (`isatty()` is true).
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """One `python <args>` subprocess (or `<program> <args>`: the image's entry point script),
    stopped with SIGTERM (then SIGKILL) by `stop()`."""

    def __init__(
        self,
        args: Sequence[str],
        directory: Path,
        *,
        label: str,
        env: Mapping[str, str] | None = None,
        program: str = sys.executable,
        terminal: bool = False,
    ) -> None:
        self.label = label
        self.output_path = directory / f"{label}.out"
        full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
        self._copier: threading.Thread | None = None
        if terminal:
            leader, follower = pty.openpty()
            self._process = subprocess.Popen(
                [program, *args], cwd=REPO_ROOT, env=full_env, stdout=follower, stderr=follower
            )
            os.close(follower)  # the child holds it: reading ends when the child's side closes
            copy = self.output_path.open("wb")
            self._copier = threading.Thread(target=_copy, args=(leader, copy), daemon=True)
            self._copier.start()
            return
        with self.output_path.open("wb") as output:
            self._process = subprocess.Popen(
                [program, *args],
                cwd=REPO_ROOT,
                env=full_env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def _finished(self, code: int) -> int:
        if self._copier is not None:
            self._copier.join(timeout=10)  # the last lines the process wrote
        return code

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def events(self, event: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """The process's JSON log lines (`LOG_FORMAT=json`), optionally only one kind of event
        with given fields; other output (LiveKit's own, tracebacks) is passed over."""
        found = []
        for line in self.output().splitlines():
            if not line.startswith("{"):
                continue
            try:
                record: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event is not None and record.get("event") != event:
                continue
            if all(record.get(key) == value for key, value in match.items()):
                found.append(record)
        return found

    def signal(self, signum: signal.Signals) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signum)

    def stop(self, timeout: float = 20.0) -> int:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                return self._finished(self._process.wait(timeout))
            except subprocess.TimeoutExpired:
                self._process.kill()
        return self._finished(self._process.wait())

    def kill(self) -> int:
        """SIGKILL: a crashed worker, no drain, no goodbye."""
        if self._process.poll() is None:
            self._process.kill()
        return self._finished(self._process.wait())


def python(
    args: Sequence[str], cwd: Path, env: Mapping[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[str]:
    """`python <args>` run to its end in `cwd` with exactly `env` (over PATH, HOME, LANG and
    TMPDIR) and the repository on its path: no variable of the test run leaks in, and no `.env`
    is read unless `cwd` has one."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    ran = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(REPO_ROOT), **env},
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        ran.args,
        ran.returncode,
        ran.stdout.decode(errors="replace"),
        ran.stderr.decode(errors="replace"),
    )


def _copy(leader: int, output: BinaryIO) -> None:
    """What a process writes to its pseudo-terminal, into its output file."""
    with output:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every holder of the terminal's other side has closed it
                break
            if not chunk:
                break
            output.write(chunk)
            output.flush()
    os.close(leader)
