"""`python -m voxie start` refuses unsafe settings before it reaches any server.

What the worker does with jobs is tested against the real livekit-server: tests/e2e/test_voxie.py
(joining creation rooms only) and tests/e2e/test_refusals.py (sessions it refuses).
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.processes import ServiceProcess, python


def test_unsafe_settings_refuse_to_start_with_a_clear_message(tmp_path: Path) -> None:
    process = ServiceProcess(
        ["-m", "voxie", "start"],
        tmp_path,
        label="refused",
        env={"PLATFORM_ENV": "prod", "LIVEKIT_API_KEY": "devkey", "VOXIE_VOICE": "robot"},
    )
    deadline = time.monotonic() + 60
    while process.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.returncode == 2, process.output()[-2000:]
    output = process.output()
    assert "voxie: refusing to start" in output and "Traceback" not in output
    assert "VOXIE_VOICE: unsupported voice 'robot'" in output


def test_importing_the_worker_module_reads_no_environment(tmp_path: Path) -> None:
    """The settings are built once, by `python -m voxie` (and refused there, as above)."""
    ran = python(["-c", "import voxie.worker"], tmp_path, {"PLATFORM_ENV": "Not A Name!"})
    assert ran.returncode == 0, ran.stderr[-3000:]
