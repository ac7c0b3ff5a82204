"""scripts/bootstrap and the dashboard: without Node.js it says so by name and still sets up
the Python environment (the backend then serves a page naming the cause, tests/backend)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the script itself calls, besides the interpreter it picks and the .venv it keeps.
COMMANDS = ("bash", "dirname", "grep", "find")


def test_without_node_the_dashboard_is_not_built_and_it_says_why(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in COMMANDS:
        found = shutil.which(name)
        assert found is not None, name
        (bin_dir / name).symlink_to(found)
    # The interpreter itself, not a version manager's shim that needs more of PATH.
    (bin_dir / "python3").symlink_to(Path(sys.executable).resolve())
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": str(bin_dir)}
    done = subprocess.run(
        [str(ROOT / "scripts" / "bootstrap")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Node.js is not installed" in done.stderr
    assert "install Node.js 20" in done.stderr
