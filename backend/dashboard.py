"""The dashboard on the API's origin: the built web app (Vite's output, `dashboard/dist`) at `/`,
and `GET /dashboard-config.json`, what the app needs to know at run time (how to sign in).

The app is the router's fallback, so every API route, and the API's own 404/405 answers, win:
- `/api/…` (and anything but GET/HEAD) is never the app: an unknown API path stays a 404 problem;
- a file of the build is served as is: `assets/` (names carry a content hash) cached for a year,
  everything else (`index.html` first) revalidated on every load, so a new build shows at once;
- but not the build's own records: Vite's `.vite/` (the manifest bench.dashboard_bundle reads)
  is never served, and source maps (`*.map`, the full sources) only in `dev`/`test` — the
  production build has none (dashboard/vite.config.ts), a development-mode build copied to a
  server must not publish them either;
- any other path without a file extension is a client route: `index.html` (the app routes it);
- a file the build also wrote gzipped (`x.js.gz`, dashboard/vite.config.ts) goes as that to a
  browser that accepts gzip (the JavaScript shrinks about 3.5 times), compressed once at build
  time rather than on each request; the API's answers are never compressed: they carry tokens
  next to text a caller chose, the mix that compression turns into a side channel (BREACH);
- with no build there, `/` and every client route answer a page naming the cause (no Node.js
  → install Node.js 20 and run scripts/bootstrap), never a blank page;
- no page may be framed and no file's type sniffed: `backend.app.SecurityHeaders` adds
  `frame-ancestors 'none'` and `nosniff` to every response of the app, these included.

`/dashboard-config.json` example:

    {"auth": {"mode": "dev", "supabase_url": null, "supabase_anon_key": null},
     "platform_env": "dev", "agent_join_timeout_s": 30}
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import Literal

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.http import json_response, services
from backend.operations import Operation
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

DEFAULT_DIST = Path(__file__).resolve().parents[1] / "dashboard" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HASHED_DIR = "assets/"
BUILD_RECORDS = ".vite/"
SOURCE_MAP = ".map"
GZIPPED = ".gz"  # the suffix of a file's compressed twin in the build


def dist_dir(settings: Settings) -> Path:
    return settings.dashboard_dist_dir or DEFAULT_DIST


# --- the configuration ---------------------------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthConfig(Body):
    mode: Literal["dev", "supabase"]
    supabase_url: str | None
    supabase_anon_key: str | None


class DashboardConfig(Body):
    auth: AuthConfig
    platform_env: str
    agent_join_timeout_s: float = Field(
        description="how long a page waits for the agent to join a call: AGENT_STARTUP_TIMEOUT_S"
    )


def dashboard_config(settings: Settings) -> DashboardConfig:
    """Supabase Auth when the project is named (URL and anon key); else the one-click dev
    sign-in where this backend has it; else Supabase, unconfigured, which the app reports."""
    supabase = bool(settings.supabase_url and settings.supabase_anon_key)
    mode: Literal["dev", "supabase"] = (
        "dev" if not supabase and settings.dev_sign_in else "supabase"
    )
    return DashboardConfig(
        auth=AuthConfig(
            mode=mode,
            supabase_url=settings.supabase_url,
            supabase_anon_key=settings.supabase_anon_key,
        ),
        platform_env=settings.platform_env,
        agent_join_timeout_s=settings.agent_startup_timeout_s,
    )


async def get_dashboard_config(request: Request) -> Response:
    config = dashboard_config(services(request).settings)
    return json_response(config, headers={"Cache-Control": REVALIDATE})


operations = [
    Operation(
        "GET",
        "/dashboard-config.json",
        get_dashboard_config,
        "the dashboard's run-time configuration: how users sign in (public)",
        response=DashboardConfig,
    )
]


# --- the built app -------------------------------------------------------------------------------


class _Build(StaticFiles):
    def __init__(self, directory: Path, *, source_maps: bool) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.source_maps = source_maps

    async def get_response(self, path: str, scope: Scope) -> Response:
        hidden = path.startswith(BUILD_RECORDS) or (
            path.endswith(SOURCE_MAP) and not self.source_maps
        )
        if hidden:
            raise HTTPException(404)  # as if absent: a missing file stays a 404
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or "." in path.rsplit("/", 1)[-1]:
                raise  # a missing file stays a 404; only client routes get the app
            path = "index.html"
            response = await super().get_response(path, scope)
        if response.status_code == 200:
            if accepts_gzip(scope):
                response = await self._gzipped(path, response)
            response.headers["Vary"] = "Accept-Encoding"  # caches keep both forms apart
        hashed = path.startswith(HASHED_DIR) and response.status_code in (200, 304)
        response.headers["Cache-Control"] = IMMUTABLE if hashed else REVALIDATE
        return response

    async def _gzipped(self, path: str, plain: Response) -> Response:
        """The file's gzipped twin when the build has one, else the file as it is."""
        full_path, stat = await anyio.to_thread.run_sync(self.lookup_path, path + GZIPPED)
        if stat is None:
            return plain
        return FileResponse(
            full_path,
            stat_result=stat,
            media_type=plain.media_type,
            headers={"Content-Encoding": "gzip"},
        )


class Dashboard:
    """The router's fallback: the built app for what no API route matched, else `not_found`."""

    def __init__(self, directory: Path, not_found: ASGIApp, *, source_maps: bool) -> None:
        self.directory = directory
        self.not_found = not_found
        self.files = _Build(directory, source_maps=source_maps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        is_api = path == "/api" or path.startswith("/api/")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or is_api:
            await self.not_found(scope, receive, send)
            return
        if not (self.directory / "index.html").is_file():
            await not_built(self.directory)(scope, receive, send)
            return
        await self.files(scope, receive, send)


def accepts_gzip(scope: Scope) -> bool:
    """Whether the request's Accept-Encoding takes gzip: named, or `*`, with a quality above 0."""
    qualities: dict[str, float] = {}
    for name, value in scope.get("headers", ()):
        if name != b"accept-encoding":
            continue
        for coding in value.decode("latin-1").split(","):
            token, _, param = coding.partition(";")
            param = param.strip().lower()
            try:
                quality = float(param.removeprefix("q=")) if param.startswith("q=") else 1.0
            except ValueError:
                quality = 0.0  # a quality that is no number accepts nothing
            qualities[token.strip().lower()] = quality
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


def missing_cause(directory: Path) -> str:
    """Why there is no build, in words that say what to do."""
    if shutil.which("node") is None:
        return (
            "Node.js is not installed: install Node.js 20 (https://nodejs.org) and run "
            "scripts/bootstrap, which builds the dashboard"
        )
    return (
        f"the dashboard has not been built ({directory} has no index.html): run "
        "scripts/bootstrap (npm ci and npm run build in dashboard/)"
    )


def not_built(directory: Path) -> Response:
    cause = html.escape(missing_cause(directory))
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Voxie dashboard: not built</title></head>"
        "<body style='font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; "
        "padding: 0 1rem; line-height: 1.5'>"
        "<h1>The dashboard is not built</h1>"
        f"<p>{cause}.</p>"
        "<p>The API itself is up and answers under <code>/api/</code>.</p>"
        "</body></html>"
    )
    return HTMLResponse(page, status_code=503, headers={"Cache-Control": "no-store"})


def log_build(directory: Path) -> None:
    if (directory / "index.html").is_file():
        log.info("dashboard_served", directory=str(directory))
    else:
        log.warning("dashboard_not_built", directory=str(directory), cause=missing_cause(directory))
