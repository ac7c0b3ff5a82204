"""`python -m shared.db`: clear refusals, and no password ever printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shared.db.__main__ import masked


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SUPABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "shared.db", *args],
        cwd=cwd,
        env={**base, "LOG_FORMAT": "json", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_masked_hides_the_password() -> None:
    assert (
        masked("postgresql://voxie:hunter2@db:5432/voxie") == "postgresql://voxie:***@db:5432/voxie"
    )
    assert (
        masked("postgresql://postgres:@/voxie?host=/tmp/x")
        == "postgresql://postgres:@/voxie?host=/tmp/x"
    )


def test_migrate_applies_to_database_url(tmp_path: Path, database_url: str) -> None:
    result = run(["migrate"], tmp_path, DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    assert '"event": "database_ready"' in result.stdout


def test_an_unreachable_database_is_reported_without_its_password(tmp_path: Path) -> None:
    result = run(["migrate"], tmp_path, DATABASE_URL="postgresql://voxie:hunter2@127.0.0.1:1/voxie")
    assert result.returncode == 1
    assert "database_unavailable" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


def test_bad_configuration_is_refused_naming_the_variable(tmp_path: Path) -> None:
    result = run(["migrate"], tmp_path, PLATFORM_ENV="prod")
    assert result.returncode == 2
    assert "LIVEKIT_API_KEY is empty" in result.stderr
    assert "neither DATABASE_URL nor SUPABASE_URL" in result.stderr


def test_a_refused_login_is_reported_cleanly(tmp_path: Path, database_url: str) -> None:
    wrong_database = database_url.replace("/voxie_test_", "/no_such_database_")
    result = run(["migrate"], tmp_path, DATABASE_URL=wrong_database)
    assert result.returncode == 1, result.stderr
    assert "database_unavailable" in result.stdout and "Traceback" not in result.stderr


def test_without_a_database_it_says_what_to_set_and_starts_nothing(tmp_path: Path) -> None:
    """The embedded local database is the launcher's (voxiectl.local_db), not a deployed one's."""
    result = run(["migrate"], tmp_path, PLATFORM_ENV="dev", LOCAL_DB_DIR=str(tmp_path / "pg"))
    assert result.returncode == 2
    assert "no database is configured: set DATABASE_URL" in result.stderr
    assert not (tmp_path / "pg").exists()
