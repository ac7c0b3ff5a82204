"""The pinned Go programs (scripts/lib/go-tool.sh): built once, then found by the version the
binary records; an override that is not a program is refused by name."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "LIVEKIT_SERVER_BIN"}
    return subprocess.run(
        [str(ROOT / "scripts" / script)],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=600,
        check=False,
    )


def test_a_built_tool_of_the_pinned_version_is_used_as_it_is() -> None:
    # scripts/test built Helm (and livekit-server, unless one is on PATH or named by
    # LIVEKIT_SERVER_BIN) before pytest: this run must find them, not build.
    built = ROOT / ".tools" / "bin"
    tools = [("install-helm", "helm"), ("install-livekit-server", "livekit-server")]
    tools = [(script, name) for script, name in tools if (built / name).exists()]
    assert tools[0] == ("install-helm", "helm")
    for script, name in tools:
        # No livekit-server on PATH but the toolchain's own directories.
        done = run(script, PATH=os.pathsep.join(("/usr/local/go/bin", "/usr/bin", "/bin")))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(ROOT / ".tools" / "bin" / name)
        assert "building" not in done.stderr
    assert not list((ROOT / ".tools" / "bin").glob(".build.*"))


def test_an_override_that_is_not_a_program_is_refused_by_name(tmp_path: Path) -> None:
    not_a_program = tmp_path / "livekit-server"
    not_a_program.write_text("")
    refused = run("install-livekit-server", LIVEKIT_SERVER_BIN=str(not_a_program))
    assert refused.returncode == 2
    assert f"LIVEKIT_SERVER_BIN={not_a_program} is not an executable file" in refused.stderr
