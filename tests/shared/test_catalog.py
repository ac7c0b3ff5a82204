"""The models and voices the platform offers, and the import layering of `shared`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from livekit.agents.llm._realtime.openai_types import RealtimeModels

from shared.catalog import DEFAULT_MODEL, DEFAULT_VOICE, SUPPORTED_MODELS, SUPPORTED_VOICES

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "backend", "voxie", "spawner")


def test_the_models_are_a_subset_of_livekits_realtime_models() -> None:
    assert set(SUPPORTED_MODELS) <= set(get_args(RealtimeModels))
    assert DEFAULT_MODEL in SUPPORTED_MODELS and DEFAULT_VOICE in SUPPORTED_VOICES


def test_every_voice_has_a_character_line() -> None:
    assert all(line and len(line) < 80 for line in SUPPORTED_VOICES.values())


def project_imports(path: Path) -> set[str]:
    """Every project module `path` imports, at the top or inside a function (TYPE_CHECKING
    included: a cycle there still ties the modules together)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(n for n in names if n.split(".")[0] in PACKAGES)
    return found


def module_graph() -> dict[str, set[str]]:
    files = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }
    # `from shared.store import X` names a module only when X is one; keep the real modules.
    return {name: {m for m in project_imports(path) if m in files} for name, path in files.items()}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if imported == module or imported.startswith(f"{module}."):
                continue  # a package importing its own submodules (`__init__` re-exports)
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_project_has_no_import_cycle() -> None:
    graph = module_graph()
    assert "shared.settings" in graph and "shared.naming" in graph
    assert cycle(graph) is None, " → ".join(cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle(graph) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("module", ["shared.naming", "shared.catalog"])
def test_leaf_modules_import_only_the_standard_library(module: str) -> None:
    probe = (
        f"import sys; import {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('shared', 'pydantic', 'pydantic_settings', 'livekit')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == repr(sorted({"shared", module}))
