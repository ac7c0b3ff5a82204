"""What each dashboard page makes the browser download before it shows: read from the build's
manifest (`dashboard/dist/.vite/manifest.json`, Vite's `build.manifest`), never from a browser.

A page's initial JavaScript is the app's entry (`index.html`'s script) with everything it
imports statically, plus — when the page is a chunk of its own (`React.lazy` in App.tsx) — that
chunk with its static imports, which Vite preloads together. Dynamic imports are left out: they
load later, if ever. A page bundled into the entry costs just the entry.

A manifest entry, keyed by its source (chunks with no source of their own start with `_`):

    "src/pages/AgentsPage.tsx": {"file": "assets/AgentsPage-Bq1x2.js",
                                 "src": "src/pages/AgentsPage.tsx", "isDynamicEntry": true,
                                 "imports": ["index.html", "_format-C3d.js"]}
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import REPO_ROOT

DASHBOARD = REPO_ROOT / "dashboard"
DIST = DASHBOARD / "dist"
# How the build the tests read is made (scripts/test makes it before the tests run).
BUILD = "scripts/bootstrap builds it with Node.js >= 20 (scripts/test runs it first)"
PAGES = DASHBOARD / "src" / "pages"
MANIFEST = Path(".vite") / "manifest.json"
ENTRY = "index.html"


class ManifestMissing(Exception):
    """The build has no manifest: it predates `build.manifest` or was not made by Vite."""


@dataclass(frozen=True)
class Size:
    raw: int
    gzip: int

    def __add__(self, other: Size) -> Size:
        return Size(self.raw + other.raw, self.gzip + other.gzip)


@dataclass(frozen=True)
class Bundle:
    """One build: its manifest and where its files are."""

    dist: Path
    manifest: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, dist: Path = DIST) -> Bundle:
        path = dist / MANIFEST
        if not path.is_file():
            raise ManifestMissing(
                f"{path} does not exist: build the dashboard with build.manifest on "
                "(scripts/bootstrap, or npm run build in dashboard/)"
            )
        manifest: dict[str, dict[str, Any]] = json.loads(path.read_text())
        return cls(dist, manifest)

    def static_closure(self, key: str) -> list[str]:
        """The JS files `key` loads at once: its own and its static imports', transitively."""
        seen: list[str] = []
        pending = [key]
        while pending:
            chunk = self.manifest[pending.pop()]
            if chunk["file"] in seen:
                continue
            seen.append(chunk["file"])
            pending.extend(chunk.get("imports", []))
        return [f for f in seen if f.endswith(".js")]

    def page_key(self, page: str) -> str:
        return f"src/pages/{page}.tsx"

    def is_split(self, page: str) -> bool:
        """Whether the page is a chunk of its own rather than part of the entry."""
        return self.page_key(page) in self.manifest

    def initial_js(self, page: str) -> list[str]:
        """The JS files the browser loads before `page` (a module in src/pages/) shows."""
        files = self.static_closure(ENTRY)
        if self.is_split(page):
            files += [f for f in self.static_closure(self.page_key(page)) if f not in files]
        return files

    def all_js(self) -> list[str]:
        """Every JS file of the build: what an all-in-one bundle loads for any page."""
        return sorted({c["file"] for c in self.manifest.values() if c["file"].endswith(".js")})

    def size(self, files: list[str]) -> Size:
        total = Size(0, 0)
        for name in files:
            data = (self.dist / name).read_bytes()
            total += Size(len(data), len(gzip.compress(data, compresslevel=9, mtime=0)))
        return total


def pages(directory: Path = PAGES) -> list[str]:
    """The page modules (src/pages/*.tsx), by name."""
    return sorted(p.stem for p in directory.glob("*.tsx"))
