"""The spawner worker's module and entry point: importing it reads no environment (the settings
are built once, by `python -m spawner`), and refused settings stop the entry point with one line.
How the settings reach a job process: tests/shared/test_worker.py.

What the worker does with jobs is tested against the real livekit-server: tests/e2e/test_fleet.py,
tests/e2e/test_lifecycle.py and tests/e2e/test_refusals.py.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import python

# Every one of these makes `Settings()` refuse to build.
BAD_ENVIRONMENT = {
    "PLATFORM_ENV": "Not A Name!",
    "WORKER_MAX_SESSIONS": "many",
    "LIVEKIT_API_TIMEOUT_S": "-1",
}


def test_importing_the_worker_module_reads_no_environment(tmp_path: Path) -> None:
    ran = python(["-c", "import spawner.worker"], tmp_path, BAD_ENVIRONMENT)
    assert ran.returncode == 0, ran.stderr[-3000:]


def test_refused_settings_stop_the_entry_point_with_one_line(tmp_path: Path) -> None:
    ran = python(["-m", "spawner", "start"], tmp_path, BAD_ENVIRONMENT)
    assert ran.returncode == 2, ran.stderr[-3000:]
    assert ran.stderr.startswith("spawner: refusing to start:"), ran.stderr[-3000:]
    assert "Traceback" not in ran.stderr and "PLATFORM_ENV" in ran.stderr
