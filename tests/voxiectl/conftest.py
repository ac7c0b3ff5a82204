"""`voxiectl` as operators run it: a real `python -m voxiectl` process with its own environment.

The doctor's tests reuse the end-to-end fixtures (a real livekit-server for the session, the
OpenAI double) and the report hook that attaches every process's output to a failed test.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.conftest import (  # noqa: F401 - fixtures and the report hook, shared
    backend_port,
    http,
    lk,
    model,
    pytest_runtest_makereport,
)
from tests.support.processes import REPO_ROOT

# Every call of the CLI ends well within this (the doctor's longest wait is its probe).
CLI_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


async def voxiectl(*args: str, env: Mapping[str, str], cwd: Path) -> Ran:
    """`python -m voxiectl <args>` with exactly `env` over a clean environment, in `cwd` (a
    fresh directory: no `.env` is read, no `.data/` found)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voxiectl",
        *args,
        cwd=cwd,
        env={**base, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_S)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
