"""`voxiectl start` — what `scripts/start` runs: the whole platform on one machine.

In order: the database (`python -m voxiectl.local_db up`: the local embedded Postgres by
default, which stays up; with DATABASE_URL or SUPABASE_URL it migrates or checks and exits),
LiveKit (with no LIVEKIT_URL set: a local `livekit-server` on 127.0.0.1:LOCAL_LIVEKIT_PORT, its
own API key and secret kept in `.data/livekit/`, webhooks to this backend; see
voxiectl.livekit_local), the backend (`python -m backend`), and the two workers (`python -m
voxie start`, `python -m spawner start`) where their packages have an entry point and LiveKit is
configured. In dev the workers start without OPENAI_API_KEY too: a call then tells the room that
no model is configured. It says which processes it skipped and why. In `dev` with no
authentication configured it generates an operator token (kept in `.data/operator-token`) and
prints the API URL and how to use it; outside dev/test it refuses to start without
authentication.

Every child runs in its own process group, so Ctrl-C reaches only this launcher, which stops
them in reverse order (workers drain, the backend finishes its requests, the database stops
last); a second Ctrl-C kills what is left. If any child dies, the others are stopped too.

Their output reaches the person (or the file) through this launcher, each line prefixed with
the process's name. A child's stdout is a pipe to the launcher, so LOG_FORMAT=auto is decided
here from the launcher's own stdout and passed down: readable lines on a terminal (and
livekit-server's info lines left out), JSON otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import SecretStr

from shared.logging import resolve_format
from shared.secret_box import new_key
from shared.settings import Component, ConfigError, Settings, StoreKind
from voxiectl import livekit_local
from voxiectl.local_settings import LocalFiles

DATABASE_READY_PREFIX = "DATABASE_URL="
STOP_TIMEOUT_S = 30.0
DATABASE_TIMEOUT_S = 300.0
# How often the launcher asks the backend whether every worker it started has registered.
READY_POLL_S = 0.5

FindSpec = Callable[[str], object | None]
WORKERS: dict[str, Component] = {"voxie": "voxie", "spawner": "spawner"}


@dataclass(frozen=True)
class Service:
    name: str
    args: tuple[str, ...]
    # The database runs first; the others start once it is ready (or has done its one job).
    database: bool = False
    # Started before the backend and waited for: the local LiveKit server's HTTP health URL.
    ready_url: str | None = None
    # livekit-server's first SIGTERM waits for every participant to leave; a second one stops it.
    stop_twice: bool = False
    # Variables for this process only (each worker's own health and metrics ports).
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class Plan:
    services: list[Service]
    skipped: list[Skipped]
    env: dict[str, str] = field(default_factory=dict)
    operator_token: str | None = None
    token_generated: bool = False
    # The generated token was made by this start (not one kept from an earlier start).
    token_made_now: bool = False
    livekit_url: str | None = None
    notes: list[str] = field(default_factory=list)
    # The backend's /readyz: "ready" is said once it answers and counts every worker started
    # here as alive (their heartbeats: registered with LiveKit).
    ready_url: str | None = None
    workers: list[str] = field(default_factory=list)


def has_entry_point(package: str, find_spec: FindSpec = importlib.util.find_spec) -> bool:
    try:
        return find_spec(f"{package}.__main__") is not None
    except ModuleNotFoundError:  # the package itself is missing
        return False


def kept(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """A dev credential, made once and kept (owner-only) so restarts do not change it; and
    whether it was made now."""
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token, False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = make()
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return token, True


def operator_token(path: Path) -> str:
    """The dev operator token."""
    return kept(path, lambda: secrets.token_urlsafe(32))[0]


def secrets_key(path: Path) -> str:
    """The dev key sealing owners' secrets (shared.secret_box)."""
    return kept(path, new_key)[0]


def plan(
    settings: Settings,
    *,
    token_path: Path,
    find_spec: FindSpec = importlib.util.find_spec,
    livekit_binary: Path | None = None,
    terminal: bool = False,
) -> Plan:
    """Which processes to start and which to skip (and why); raises ConfigError when the
    platform must not start at all. `livekit_binary` is the livekit-server to run when
    LIVEKIT_URL is not set (None: there is none, and LiveKit is skipped); `terminal`: the
    launcher's output reaches a terminal."""
    settings.validate_for("backend")
    # Where the credentials it makes are kept (voxiectl.local_settings reads them back).
    files = LocalFiles(token_path.parent)
    database_note = {
        StoreKind.LOCAL: "local embedded Postgres",
        StoreKind.POSTGRES: "DATABASE_URL (migrations applied)",
        StoreKind.SUPABASE: "SUPABASE_URL (REST API checked)",
    }[settings.store_kind]
    result = Plan(
        services=[
            Service(f"database: {database_note}", ("-m", "voxiectl.local_db", "up"), database=True),
            Service("backend", ("-m", "backend")),
        ],
        skipped=[],
        env={"LOG_FORMAT": resolve_format(settings.log_format, terminal=terminal)},
    )
    has_auth = bool(
        settings.backend_admin_token or settings.supabase_jwt_secret or settings.jwks_url
    )
    if settings.backend_admin_token:
        result.operator_token = settings.backend_admin_token.get_secret_value()
    elif not has_auth and settings.is_development:
        result.operator_token, result.token_made_now = kept(
            token_path, lambda: secrets.token_urlsafe(32)
        )
        result.token_generated = True
        result.env["BACKEND_ADMIN_TOKEN"] = result.operator_token
    if settings.dev_sign_in and settings.dev_auth_secret is None:
        # Kept like the operator token, so a restart does not sign the dashboard out.
        result.env["DEV_AUTH_SECRET"] = operator_token(files.dev_auth_secret)
    if not settings.secrets_keys and settings.is_development:
        # Kept like the operator token: owners' stored secrets must open after a restart.
        key = secrets_key(files.secrets_key)
        result.env["SECRETS_KEYS"] = json.dumps([key])
    if not settings.api_key_hash_keys and settings.is_development:
        # Kept too: owners' API keys must still be recognised after a restart.
        hash_key = kept(files.api_key_hash_key, new_key)[0]
        result.env["API_KEY_HASH_KEYS"] = json.dumps([hash_key])
    settings = _plan_livekit(settings, result, files.livekit_dir, livekit_binary)
    if not settings.openai_api_key.get_secret_value() and settings.is_development:
        result.notes.append(
            "OPENAI_API_KEY is not set: the workers start, and a call tells its room that no "
            "model is configured"
        )
    for offset, package in enumerate(WORKERS):
        reason = _why_not(package, settings, find_spec)
        if reason is None:
            env = _worker_ports(settings, offset)
            result.services.append(Service(package, ("-m", package, "start"), env=env))
            result.workers.append(package)
        else:
            result.skipped.append(Skipped(package, reason))
    result.ready_url = f"http://{_loopback(settings.backend_host)}:{settings.backend_port}/readyz"
    return result


def _loopback(host: str) -> str:
    """Where this machine reaches a server bound to `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - compared, not bound


def _worker_ports(settings: Settings, offset: int) -> dict[str, str]:
    """Both workers run on this one machine: each gets its own health (and metrics) port, the
    configured one for the first and the next ones up for the second."""
    env: dict[str, str] = {}
    if settings.worker_http_port:
        env["WORKER_HTTP_PORT"] = str(settings.worker_http_port + offset)
    if settings.worker_prometheus_port:
        env["WORKER_PROMETHEUS_PORT"] = str(settings.worker_prometheus_port + offset)
    return env


def _plan_livekit(
    settings: Settings, result: Plan, directory: Path, binary: Path | None
) -> Settings:
    """With LIVEKIT_URL set: that server. Without: a local livekit-server, first after the
    database, and the settings every later process gets pointing at it."""
    if "livekit_url" in settings.model_fields_set:
        result.livekit_url = settings.livekit_url
        return settings
    if binary is None:
        result.skipped.append(Skipped("livekit", NO_LIVEKIT_SERVER))
        return settings.model_copy(update={"livekit_api_key": "", "livekit_api_secret": ""})
    credentials = livekit_local.Credentials.kept_in(directory / "keys")
    host = _loopback(settings.backend_host)
    port = settings.local_livekit_port
    log_format = result.env["LOG_FORMAT"]
    config = livekit_local.ServerConfig(
        credentials,
        http_port=port,
        udp_port=port + 2,
        webhook_urls=[f"http://{host}:{settings.backend_port}/api/livekit/webhook"],
        log_level=livekit_log_level(settings, log_format),
        log_json=log_format == "json",
    )
    config_path = directory / "livekit.json"
    config_path.write_text(config.text(), encoding="utf-8")
    config_path.chmod(0o600)  # it holds the API secret
    result.services.insert(
        1,
        Service(
            "livekit",
            ("-m", "voxiectl.livekit_local", str(binary), str(config_path)),
            ready_url=f"http://{livekit_local.LOOPBACK}:{port}/",
            stop_twice=True,
        ),
    )
    result.livekit_url = config.url
    result.env |= {
        "LIVEKIT_URL": config.url,
        "LIVEKIT_API_KEY": credentials.api_key,
        "LIVEKIT_API_SECRET": credentials.api_secret,
    }
    return settings.model_copy(
        update={
            "livekit_url": config.url,
            "livekit_api_key": credentials.api_key,
            "livekit_api_secret": SecretStr(credentials.api_secret),
        }
    )


# livekit-server's names for LOG_LEVEL's levels.
_LIVEKIT_LEVELS = {"debug": "debug", "info": "info", "warning": "warn", "error": "error"}


def livekit_log_level(settings: Settings, log_format: str) -> str:
    """LOG_LEVEL in livekit-server's words, except that readable output leaves out its info
    lines, which drowned the platform's own: every API call, the machine's CPU, and for each
    participant and publisher of a healthy call "not dispatching agent job since no worker is
    available" (it offers participant and publisher jobs too; our workers take room jobs only).
    LOG_LEVEL=debug still shows everything."""
    if log_format == "console" and settings.log_level == "info":
        return "warn"
    return _LIVEKIT_LEVELS[settings.log_level]


NO_LIVEKIT_SERVER = (
    "LIVEKIT_URL is not set and no livekit-server is installed: install Go >= 1.26 "
    "(https://go.dev/dl/) and run scripts/start again (scripts/install-livekit-server builds it "
    "into .tools/bin), or install LiveKit's livekit-server package and put it on PATH, or set "
    "LIVEKIT_URL to a LiveKit server"
)


def _why_not(package: str, settings: Settings, find_spec: FindSpec) -> str | None:
    if not has_entry_point(package, find_spec):
        return f"the {package} package has no entry point here ({package}/__main__.py is missing)"
    if not settings.livekit_configured:
        return "no LiveKit server: LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not set"
    try:
        settings.validate_for(WORKERS[package])
    except ConfigError as exc:
        return str(exc)
    return None


def describe(settings: Settings, chosen: Plan) -> list[str]:
    """What the person at the terminal needs to know, secrets only where they must see them."""
    lines = ["starting: " + ", ".join(s.name for s in chosen.services)]
    lines += [f"skipped: {s.name} — {s.reason}" for s in chosen.skipped]
    lines += [f"note: {note}" for note in chosen.notes]
    base = f"http://{settings.backend_host}:{settings.backend_port}"
    lines.append(
        f"dashboard: {base}/" + (" (one-click dev sign-in)" if settings.dev_sign_in else "")
    )
    # Every /api path and the document need the bearer token: the links carry it.
    shown = chosen.operator_token if chosen.token_generated else None
    bearer = f"-H 'Authorization: Bearer {shown or '$BACKEND_ADMIN_TOKEN'}'"
    lines.append(f"API: curl {bearer} {base}/api/agents")
    lines.append(f"OpenAPI document: curl {bearer} {base}/openapi.json")
    if chosen.livekit_url:
        lines.append(f"LiveKit: {chosen.livekit_url}")
    if chosen.token_generated and chosen.operator_token:
        how = "made an operator token" if chosen.token_made_now else "reused the operator token"
        lines.append(
            f"no authentication configured (dev): {how} kept in "
            f"{LocalFiles.of(settings).operator_token}"
        )
    return lines


# --- running ------------------------------------------------------------------------------------


class Child:
    def __init__(self, service: Service, env: Mapping[str, str], out: IO[str]) -> None:
        self.service = service
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed module args
            [sys.executable, *service.args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # Ctrl-C is the launcher's to handle, in order
        )
        self.database_url: str | None = None
        self.ready = threading.Event()
        self._out = out
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        label = self.service.name.split(":")[0]
        for line in self.process.stdout:
            if line.startswith(DATABASE_READY_PREFIX):
                self.database_url = line.strip().removeprefix(DATABASE_READY_PREFIX)
                self.ready.set()
                line = "database ready (DATABASE_URL passed to the other processes)\n"
            self._out.write(f"[{label}] {line}")
            self._out.flush()
        self.ready.set()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


class Launcher:
    def __init__(self, chosen: Plan, *, out: IO[str] = sys.stdout) -> None:
        self.plan = chosen
        self.out = out
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self.forced = False

    def _signal(self, _signum: int, _frame: object) -> None:
        if self.stopping.is_set():
            self.forced = True
            for child in self.children:
                child.stop(signal.SIGKILL)
            return
        self.say("stopping (Ctrl-C again to force)")
        self.stopping.set()

    def say(self, message: str) -> None:
        self.out.write(f"[start] {message}\n")
        self.out.flush()

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._signal)
        signal.signal(signal.SIGTERM, self._signal)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.plan.env}
        try:
            for service in self.plan.services:
                if self.stopping.is_set():
                    break
                child = Child(service, {**env, **service.env}, self.out)
                self.children.append(child)
                if service.database:
                    code = self._wait_for_database(child)
                    if code is not None:
                        return code
                    if child.database_url:
                        env["DATABASE_URL"] = child.database_url
                if service.ready_url and not self._wait_for_http(child, service.ready_url):
                    return 1
            return self._watch()
        finally:
            self._stop_all()

    def _wait_for_database(self, child: Child) -> int | None:
        deadline = time.monotonic() + DATABASE_TIMEOUT_S
        while not self.stopping.is_set():
            if child.ready.wait(0.2):
                break
            if time.monotonic() > deadline:
                self.say("the database did not become ready")
                return 1
        code = child.wait(30) if child.database_url is None else None
        if code not in (None, 0):
            self.say(f"the database step failed (exit {code}); nothing else was started")
            return code
        return None

    def _wait_for_http(self, child: Child, url: str) -> bool:
        began = time.monotonic()
        deadline = began + livekit_local.READY_TIMEOUT_S
        while not self.stopping.is_set():
            if child.process.poll() is not None:
                self.say(f"{child.service.name} exited while starting; nothing else was started")
                return False
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - loopback
                    if answer.status == 200:
                        self.say(f"{child.service.name} ready in {time.monotonic() - began:.2f} s")
                        return True
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.say(f"{child.service.name} did not answer on {url}")
                return False
            time.sleep(0.05)
        return False

    def _ready(self) -> bool:
        """The backend answers /readyz and counts each worker started here as alive."""
        if self.plan.ready_url is None:
            return True
        try:
            with urllib.request.urlopen(self.plan.ready_url, timeout=1) as answer:  # noqa: S310 - loopback
                body = json.loads(answer.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False
        alive = body.get("workers") or {}
        return all((alive.get(w) or {}).get("alive", 0) > 0 for w in self.plan.workers)

    def _say_ready(self) -> None:
        started = " and ".join(self.plan.workers)
        what = f"the backend answers and {started} registered" if started else "the backend answers"
        skipped = [s.name for s in self.plan.skipped if s.name in WORKERS]
        without = f" (without {', '.join(skipped)}: skipped, see above)" if skipped else ""
        self.say(f"ready: {what}{without}")

    def _watch(self) -> int:
        ready = False
        next_check = 0.0
        while not self.stopping.wait(0.2):
            if not ready and time.monotonic() >= next_check:
                ready = self._ready()
                next_check = time.monotonic() + READY_POLL_S
                if ready:
                    self._say_ready()
            for child in self.children:
                code = child.process.poll()
                one_shot_done = child.service.database and not child.database_url and code == 0
                if code is not None and not one_shot_done:
                    self.say(f"{child.service.name} exited ({code}); stopping the others")
                    return code or 1
        return 0

    def _stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()
            if child.service.stop_twice and child.wait(1.0) is None:
                child.stop()
            if child.wait(STOP_TIMEOUT_S) is None and not self.forced:
                self.say(f"{child.service.name} did not stop in time: killing it")
                child.stop(signal.SIGKILL)
                child.wait(5)


def main() -> int:
    try:
        settings = Settings()
        chosen = plan(
            settings,
            token_path=LocalFiles.of(settings).operator_token,
            livekit_binary=livekit_local.find_binary(),
            terminal=sys.stdout.isatty(),
        )
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    launcher = Launcher(chosen)
    for line in describe(settings, chosen):
        launcher.say(line)
    return launcher.run()


if __name__ == "__main__":
    sys.exit(main())
