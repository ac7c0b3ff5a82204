"""The import graph of the whole project, read from each module's AST (imports at the top, inside
functions and under TYPE_CHECKING alike): no import cycle anywhere, and each package imports only
the floors below it.

    shared                      the runtime library every component uses: imports only itself
    backend, spawner, voxie     the deployed components: themselves and shared
    voxiectl                    the operator's CLI: itself and shared; it reaches the backend
                                through its HTTP API and the workers as processes, never by import
    bench                       anything (benchmarks drive the components in-process)

`python -m pytest tests/test_layers.py -q -s` prints the graph's size and its cross-package arrows.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "backend", "spawner", "voxie", "voxiectl", "bench")
MAY_IMPORT = {
    "shared": {"shared"},
    "backend": {"backend", "shared"},
    "spawner": {"spawner", "shared"},
    "voxie": {"voxie", "shared"},
    "voxiectl": {"voxiectl", "shared"},
    "bench": set(PACKAGES),
}


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


def crossings(graph: dict[str, set[str]]) -> list[str]:
    """Every import from one package into a package it may not import, as `a → b`."""
    return [
        f"{module} → {imported}"
        for module, imports in sorted(graph.items())
        for imported in sorted(imports)
        if imported.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]
    ]


def test_the_project_has_no_import_cycle() -> None:
    graph = module_graph()
    assert "shared.settings" in graph and "voxiectl.doctor" in graph
    assert cycle(graph) is None, " → ".join(cycle(graph) or [])


def test_each_package_imports_only_the_floors_below_it() -> None:
    graph = module_graph()
    arrows = Counter(
        (module.split(".")[0], imported.split(".")[0])
        for module, imports in graph.items()
        for imported in imports
        if module.split(".")[0] != imported.split(".")[0]
    )
    print(
        f"\n{len(graph)} modules, {sum(len(i) for i in graph.values())} imports; across packages:"
    )
    for (source, target), count in sorted(arrows.items()):
        print(f"  {source} → {target}: {count}")
    assert crossings(graph) == []


def test_the_checks_find_a_cycle_and_a_forbidden_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle(graph) == ["a", "b", "c", "a"]
    layered = {
        "voxiectl.doctor": {"backend.rooms", "shared.rooms"},
        "shared.rooms": {"spawner.worker"},
        "backend.rooms": {"shared.rooms"},
        "spawner.worker": set(),
    }
    assert crossings(layered) == [
        "shared.rooms → spawner.worker",
        "voxiectl.doctor → backend.rooms",
    ]
