"""The dashboard's generated API types against the backend's OpenAPI document: `scripts/api-types
--check` (which scripts/test runs) passes on the committed files and fails, naming the stale file
and the command, once a contract gains a field nobody regenerated for; regenerating brings the
field into the TypeScript. It runs in a copy of the code the document is built from, so the real
tree is never touched."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.missing import missing

ROOT = Path(__file__).resolve().parents[2]
LIB = "dashboard/src/lib"
# A field of a contract the API serves (shared/contracts/sessions.py CallTurn), and one added to it.
CONTRACT = "shared/contracts/sessions.py"
FIELD = "    interrupted: bool = False\n"
ADDED = "    barged_in_by: str | None = None\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of what scripts/api-types reads and writes, with the real .venv and node_modules."""
    node_modules = ROOT / "dashboard" / "node_modules"
    if not (node_modules / ".bin" / "openapi-typescript").exists():
        missing("openapi-typescript in dashboard/node_modules", "scripts/bootstrap (npm ci)")
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("backend", "shared"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "api-types", tmp_path / "scripts" / "api-types")
    (tmp_path / LIB).mkdir(parents=True)
    shutil.copy2(ROOT / "dashboard" / "package.json", tmp_path / "dashboard" / "package.json")
    for name in ("api.openapi.json", "api.gen.ts"):
        shutil.copy2(ROOT / LIB / name, tmp_path / LIB / name)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "dashboard" / "node_modules").symlink_to(node_modules)
    return tmp_path


def api_types(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tree / "scripts" / "api-types"), *args],
        capture_output=True,
        text=True,
        cwd=tree,
        timeout=120,
        check=False,
    )


def test_the_committed_types_are_those_of_the_document(tree: Path) -> None:
    check = api_types(tree, "--check")
    assert check.returncode == 0, check.stderr


def test_a_field_added_to_a_contract_without_regenerating_fails_the_check(tree: Path) -> None:
    contract = tree / CONTRACT
    source = contract.read_text()
    assert source.count(FIELD) == 1, f"{CONTRACT} no longer has {FIELD.strip()!r}: pick another"
    contract.write_text(source.replace(FIELD, FIELD + ADDED))

    stale = api_types(tree, "--check")
    assert stale.returncode == 1, stale.stderr
    assert f"{LIB}/api.gen.ts is stale: run scripts/api-types" in stale.stderr
    assert f"{LIB}/api.openapi.json is stale: run scripts/api-types" in stale.stderr
    assert "barged_in_by" not in (tree / LIB / "api.gen.ts").read_text()  # a check writes nothing

    regenerated = api_types(tree)
    assert regenerated.returncode == 0, regenerated.stderr
    assert "barged_in_by: string | null;" in (tree / LIB / "api.gen.ts").read_text()
    assert api_types(tree, "--check").returncode == 0
