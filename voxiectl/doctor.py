"""`voxiectl doctor`: checks the platform the settings describe, and says how to fix what fails.

Each check gives pass / fail / warn / skip, what it saw, and a one-line fix. A check whose
dependency failed is skipped (no database: no agent or session checks). Every call that leaves
the process has a deadline: the store's and LiveKit's own (`STORE_TIMEOUT_S`,
`LIVEKIT_API_TIMEOUT_S`), HTTP calls `http_timeout_s`, and each check as a whole `check_timeout_s`.

The worker checks use the probe of `shared.contracts.probe`: a room `platform-probe-*` with one
dispatch to the agent name; every worker registered under the name appends who it is (its
deployment) and passes the job on, so one probe finds all of them — including a worker of
another deployment registered under this deployment's name (the seeds' staging outage). The
probe room is deleted afterwards; nothing joins it and nothing is written to the database.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import aiohttp
import asyncpg
import httpx
from livekit import api
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts.probe import ProbeAnswer, ProbeAnswers
from shared.db.migrations import discover
from shared.naming import WorkerRole, probe_room_name
from shared.room_census import room_states
from shared.rooms import LiveKitError, LiveKitRefused, LiveKitRooms, NewRoom
from shared.settings import ConfigError, Settings, StoreKind
from shared.store import AgentStore, open_store
from shared.store.postgres import PostgresStore
from voxiectl.agents import fleet
from voxiectl.api import ApiError, Backend, base_url

T = TypeVar("T")

# The backend's webhook counter (backend/metrics.py) and how long LiveKit gets to deliver.
WEBHOOKS_METRIC = "voxie_backend_webhooks_total"
DELIVERY_WAIT_S = 5.0


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a check result, not a password
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
            "data": self.data,
        }


@dataclass(frozen=True)
class Options:
    http_timeout_s: float = 5.0
    check_timeout_s: float = 30.0
    # How long a probe waits for the first worker's answer (LiveKit asks a worker within a
    # second; it gives one 10 s to answer), and then for the next ones to stop coming.
    probe_timeout_s: float = 12.0
    probe_settle_s: float = 2.0


@dataclass(frozen=True)
class ProbeResult:
    agent_name: str
    answers: list[ProbeAnswer]
    first_answer_s: float | None
    # Workers LiveKit gave the job to that ended it without answering (not this platform's code).
    silent_workers: list[str]


def failed(checks: list[Check]) -> bool:
    return any(c.status is Status.FAIL for c in checks)


async def run(
    build_settings: Callable[[], Settings], options: Options | None = None
) -> list[Check]:
    options = options or Options()
    try:
        settings = build_settings()
    except ConfigError as exc:
        return [
            Check(
                "settings",
                Status.FAIL,
                f"the settings do not load: {exc}",
                "set or correct the variables named above (.env.example explains each)",
            )
        ]
    return await Doctor(settings, options).run()


class Doctor:
    def __init__(self, settings: Settings, options: Options) -> None:
        self.settings = settings
        self.options = options
        self.checks: list[Check] = []

    async def run(self) -> list[Check]:
        s = self.settings
        self.checks.append(self._settings())
        store = await self._guarded("database", self._database)
        await self._guarded("supabase", self._supabase)
        if not s.livekit_configured:
            self._add(
                Check(
                    "livekit",
                    Status.FAIL,
                    "no LiveKit credentials: LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not set, "
                    "and no local server's keys were found",
                    "set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET, or run scripts/start "
                    "(it runs a local livekit-server and keeps its keys in .data/livekit/keys)",
                )
            )
            workers = [f"worker {s.worker_agent_name(r)}" for r in WorkerRole]
            for name in ("webhook", *workers, "agent names", "webhook delivery", "rooms"):
                self._skip(name, "LiveKit is not configured")
            if store is None:
                self._skip("agents", "the database is not reachable")
            else:
                await self._guarded("agents", lambda: self._agents(store))
                await store.close()
            self._skip("sessions", "LiveKit is not configured")
            return self.checks
        lk = api.LiveKitAPI(
            s.livekit_url,
            s.livekit_api_key,
            s.livekit_api_secret.get_secret_value(),
            timeout=aiohttp.ClientTimeout(total=s.livekit_api_timeout_s),
        )
        rooms = LiveKitRooms(lk, timeout_s=s.livekit_api_timeout_s)
        try:
            live = await self._guarded("livekit", lambda: self._livekit(rooms))
            await self._guarded("webhook", self._webhook)
            if live is None:
                workers = [f"worker {s.worker_agent_name(r)}" for r in WorkerRole]
                for name in (*workers, "agent names", "webhook delivery", "rooms"):
                    self._skip(name, "LiveKit is not reachable with these credentials")
            else:
                before = await self._webhooks_received()
                await self._workers(rooms)
                await self._guarded("webhook delivery", lambda: self._delivery(before))
                await self._guarded("rooms", lambda: self._rooms(rooms))
            if store is None:
                for name in ("agents", "sessions"):
                    self._skip(name, "the database is not reachable")
            else:
                await self._guarded("agents", lambda: self._agents(store))
                if live is None:
                    self._skip("sessions", "LiveKit is not reachable with these credentials")
                else:
                    await self._guarded("sessions", lambda: self._sessions(store, rooms))
        finally:
            await lk.aclose()
            if store is not None:
                await store.close()
        return self.checks

    # --- plumbing ---------------------------------------------------------------------------

    async def _guarded(self, name: str, check: Callable[[], Awaitable[T]]) -> T | None:
        """Runs one check under its deadline; an unexpected error fails that check only."""
        try:
            async with asyncio.timeout(self.options.check_timeout_s):
                return await check()
        except TimeoutError:
            self.checks.append(
                Check(name, Status.FAIL, f"no answer within {self.options.check_timeout_s:g} s")
            )
        except Exception as exc:
            self.checks.append(Check(name, Status.FAIL, f"{type(exc).__name__}: {exc}"))
        return None

    def _skip(self, name: str, why: str) -> None:
        self.checks.append(Check(name, Status.SKIP, f"not checked: {why}"))

    def _add(self, check: Check) -> None:
        self.checks.append(check)

    # --- settings ---------------------------------------------------------------------------

    def _settings(self) -> Check:
        s = self.settings
        problems: list[str] = []
        for component in ("backend", "voxie", "spawner"):
            try:
                s.validate_for(component)
            except ConfigError as exc:
                problems.append(str(exc))
        names = {
            role.value: s.worker_agent_name(role) for role in (WorkerRole.VOXIE, WorkerRole.SPAWNER)
        }
        data = {"platform_env": s.platform_env, "store": s.store_kind.value, "agent_names": names}
        if problems:
            return Check(
                "settings",
                Status.FAIL,
                "; ".join(problems),
                "set the variables named above for this PLATFORM_ENV (.env.example explains each)",
                data,
            )
        return Check(
            "settings",
            Status.PASS,
            f"valid for PLATFORM_ENV={s.platform_env} (backend, voxie, spawner); "
            f"store {s.store_kind.value}; agent names {names['voxie']}, {names['spawner']}",
            data=data,
        )

    # --- database ---------------------------------------------------------------------------

    async def _database(self) -> AgentStore | None:
        s = self.settings
        if s.store_kind is StoreKind.SUPABASE:
            store = await open_store(s)
            await store.ping()
            self._add(Check("database", Status.PASS, f"Supabase REST at {s.supabase_url} answers"))
            self._add(
                Check(
                    "migrations",
                    Status.SKIP,
                    "not checked over REST",
                    "compare with `supabase migration list` (Supabase CLI)",
                )
            )
            return store
        dsn = await self._dsn()
        try:
            conn = await asyncpg.connect(dsn, timeout=s.store_timeout_s, statement_cache_size=0)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self._add(
                Check(
                    "database",
                    Status.FAIL,
                    f"cannot connect ({type(exc).__name__}: {exc})",
                    "start the database or correct DATABASE_URL (in dev `voxiectl start` runs "
                    "the local one)",
                )
            )
            self._skip("migrations", "the database is not reachable")
            return None
        try:
            applied = await _applied_versions(conn, s.store_timeout_s)
        finally:
            await conn.close()
        self._add(Check("database", Status.PASS, f"{s.store_kind.value} database answers"))
        self._add(_migrations(applied))
        # Not open_store: for the local database that would apply what is missing, and the
        # doctor only looks.
        return await PostgresStore.connect(dsn, max_size=2, timeout_s=s.store_timeout_s)

    async def _dsn(self) -> str:
        s = self.settings
        if s.database_url is not None:
            return s.database_url.get_secret_value()
        from voxiectl.local_db import DATABASE, LocalPostgres, with_database

        server = await asyncio.to_thread(LocalPostgres(s.local_db_dir).start)
        return with_database(server, DATABASE)

    async def _supabase(self) -> None:
        s = self.settings
        targets: list[tuple[str, str, dict[str, str]]] = []
        if s.supabase_url and s.supabase_service_role_key:
            key = s.supabase_service_role_key.get_secret_value()
            targets.append(
                (
                    "REST",
                    f"{s.supabase_url.rstrip('/')}/rest/v1/",
                    {"apikey": key, "Authorization": f"Bearer {key}"},
                )
            )
        if s.jwks_url:
            targets.append(("JWKS", s.jwks_url, {}))
        if not targets:
            self._skip("supabase", "SUPABASE_URL and SUPABASE_JWKS_URL are not set")
            return
        seen: list[str] = []
        async with httpx.AsyncClient(timeout=self.options.http_timeout_s) as client:
            for what, url, headers in targets:
                try:
                    response = await client.get(url, headers=headers)
                except httpx.HTTPError as exc:
                    self._add(
                        Check(
                            "supabase",
                            Status.FAIL,
                            f"{what} {url} unreachable ({type(exc).__name__})",
                            "check SUPABASE_URL / SUPABASE_JWKS_URL and the network to Supabase",
                        )
                    )
                    return
                problem = _supabase_problem(what, response)
                if problem:
                    self._add(
                        Check("supabase", Status.FAIL, f"{what} {url}: {problem[0]}", problem[1])
                    )
                    return
                seen.append(f"{what} answers")
        self._add(Check("supabase", Status.PASS, ", ".join(seen)))

    # --- LiveKit ----------------------------------------------------------------------------

    async def _livekit(self, rooms: LiveKitRooms) -> bool | None:
        s = self.settings
        if not s.livekit_configured:
            self._add(
                Check(
                    "livekit",
                    Status.FAIL,
                    "LIVEKIT_API_KEY / LIVEKIT_API_SECRET are not set",
                    "set them to a key pair of the LiveKit server at LIVEKIT_URL",
                )
            )
            return None
        began = time.monotonic()
        try:
            listed = await rooms.list_rooms()
        except LiveKitRefused as exc:
            self._add(
                Check(
                    "livekit",
                    Status.FAIL,
                    f"{s.livekit_url} refused these credentials ({exc}): LIVEKIT_API_KEY "
                    "or LIVEKIT_API_SECRET is wrong",
                    "set LIVEKIT_API_KEY / LIVEKIT_API_SECRET to a key pair the server's "
                    "`keys:` lists",
                )
            )
            return None
        except LiveKitError as exc:
            self._add(
                Check(
                    "livekit",
                    Status.FAIL,
                    f"{s.livekit_url}: {exc}",
                    "start LiveKit or correct LIVEKIT_URL",
                )
            )
            return None
        took = (time.monotonic() - began) * 1000
        self._add(
            Check(
                "livekit",
                Status.PASS,
                f"{s.livekit_url} accepts key {s.livekit_api_key} ({len(listed)} rooms, "
                f"{took:.0f} ms)",
                data={"rooms": len(listed), "ms": round(took, 1)},
            )
        )
        return True

    async def _webhook(self) -> None:
        """A signed test event, as LiveKit would send it, must be accepted by the backend: the
        backend verifies with its own key pair, so a 401 means the two differ."""
        s = self.settings
        url = f"{base_url(s)}/api/livekit/webhook"
        event = {
            "event": "room_started",
            "id": f"EV_doctor_{int(time.time() * 1000)}",
            "createdAt": str(int(time.time())),
            "room": {"name": probe_room_name()},  # not a platform room: nothing acts on it
        }
        body = json.dumps(event)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        token = (
            api.AccessToken(s.livekit_api_key, s.livekit_api_secret.get_secret_value())
            .with_sha256(digest)
            .with_ttl(timedelta(minutes=5))
            .to_jwt()
        )
        headers = {"Authorization": token, "Content-Type": "application/webhook+json"}
        began = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=self.options.http_timeout_s) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._add(
                Check(
                    "webhook",
                    Status.FAIL,
                    f"the backend at {url} is unreachable ({type(exc).__name__})",
                    "start the backend (`python -m backend`) or set BACKEND_URL to where it runs",
                )
            )
            return
        took = (time.monotonic() - began) * 1000
        if response.status_code == 200:
            self._add(
                Check(
                    "webhook",
                    Status.PASS,
                    f"a signed test event was accepted by {url} ({took:.0f} ms); LiveKit must "
                    "send its webhooks there (`webhook.urls` in its config)",
                    data={"url": url, "ms": round(took, 1)},
                )
            )
        elif response.status_code == 401:
            self._add(
                Check(
                    "webhook",
                    Status.FAIL,
                    f"{url} refused a event signed with key {s.livekit_api_key}: the backend "
                    "has another LiveKit key pair, so it refuses LiveKit's real webhooks too",
                    "give the backend the LIVEKIT_API_KEY / LIVEKIT_API_SECRET LiveKit signs with",
                )
            )
        else:
            self._add(
                Check(
                    "webhook",
                    Status.FAIL,
                    f"{url} answered {response.status_code}: {response.text[:200]}",
                    "read the backend's log for this request; it must answer 200",
                )
            )

    async def _webhooks_received(self) -> float | None:
        """The backend's count of LiveKit's `room_started` webhooks (None: not readable)."""
        try:
            async with Backend(self.settings, timeout_s=self.options.http_timeout_s) as backend:
                response = await backend.call("GET", "/metrics")
        except ApiError:
            return None
        if response.status_code != 200:
            return None
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == WEBHOOKS_METRIC and sample.labels.get("event") == "room_started":
                    return sample.value
        return 0.0

    async def _delivery(self, before: float | None) -> None:
        """The probe rooms were created on LiveKit: LiveKit sends `room_started` to its webhook
        URLs. The backend counting them proves LiveKit's `webhook.urls` points at it."""
        if before is None:
            self._skip("webhook delivery", "the backend's /metrics is not readable as operator")
            return
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while time.monotonic() < deadline:
            now = await self._webhooks_received()
            if now is not None and now > before:
                self._add(
                    Check(
                        "webhook delivery",
                        Status.PASS,
                        "LiveKit delivered the probe rooms' room_started events to the backend",
                    )
                )
                return
            await asyncio.sleep(0.2)
        self._add(
            Check(
                "webhook delivery",
                Status.WARN,
                f"the backend at {base_url(self.settings)} received no room_started webhook for "
                f"the probe rooms within {DELIVERY_WAIT_S:g} s (with several backend replicas "
                "another one may have): LiveKit's webhook.urls may not point at it",
                "set LiveKit's `webhook: {api_key: <LIVEKIT_API_KEY>, urls: "
                "[<backend>/api/livekit/webhook]}`",
            )
        )

    # --- workers ----------------------------------------------------------------------------

    async def _workers(self, rooms: LiveKitRooms) -> None:
        s = self.settings
        roles = (WorkerRole.VOXIE, WorkerRole.SPAWNER)
        names = [s.worker_agent_name(role) for role in roles]
        results = await asyncio.gather(
            *(probe(rooms, name, self.options) for name in names), return_exceptions=True
        )
        collisions: list[str] = []
        for role, name, result in zip(roles, names, results, strict=True):
            if isinstance(result, BaseException):
                self._add(
                    Check(
                        f"worker {name}",
                        Status.FAIL,
                        f"the probe failed: {type(result).__name__}: {result}",
                    )
                )
                continue
            self._add(self._worker_check(role, result))
            foreign = [a for a in result.answers if a.deployment != s.platform_env]
            if foreign or result.silent_workers:
                collisions.append(_collision(name, s.platform_env, result))
        if collisions:
            self._add(
                Check(
                    "agent names",
                    Status.FAIL,
                    "; ".join(collisions)
                    + ". LiveKit load-balances jobs across every worker of a name, so calls "
                    "reach the wrong deployment or wait while it refuses them",
                    "give each deployment its own PLATFORM_ENV and drop VOXIE_AGENT_NAME / "
                    "SPAWNER_AGENT_NAME overrides that reuse another deployment's name",
                )
            )
        else:
            self._add(
                Check(
                    "agent names",
                    Status.PASS,
                    f"only deployment '{s.platform_env}' is registered under "
                    + " and ".join(names),
                )
            )

    def _worker_check(self, role: WorkerRole, result: ProbeResult) -> Check:
        s = self.settings
        ours = [a for a in result.answers if a.deployment == s.platform_env]
        data: dict[str, Any] = {
            "agent_name": result.agent_name,
            "workers": [a.model_dump(mode="json") for a in result.answers],
            "first_answer_ms": None
            if result.first_answer_s is None
            else round(result.first_answer_s * 1000, 1),
        }
        if not ours:
            start = f"python -m {role.value} start"
            return Check(
                f"worker {result.agent_name}",
                Status.FAIL,
                f"no {role.value} worker of deployment '{s.platform_env}' took the probe job "
                f"within {self.options.probe_timeout_s:g} s: none is registered under "
                f"{result.agent_name}, or every one is full (LiveKit offers jobs only to "
                "workers below their load threshold)",
                f"start one with PLATFORM_ENV={s.platform_env} (`{start}`, or scale the "
                f"{role.value} deployment)",
                data,
            )
        where = ", ".join(f"{a.host}/{a.pid}" for a in ours)
        return Check(
            f"worker {result.agent_name}",
            Status.PASS,
            f"{len(ours)} worker(s) registered and taking jobs ({where}); the probe job was "
            f"answered {data['first_answer_ms']:.0f} ms after the room was created",
            data=data,
        )

    # --- rooms, agents, sessions ------------------------------------------------------------

    async def _rooms(self, rooms: LiveKitRooms) -> None:
        s = self.settings
        now = datetime.now(UTC)
        views = [state.view(now) for state in await room_states(rooms, await rooms.list_rooms())]
        orphaned = [
            v.name
            for v in views
            if v.state == "waiting_for_agent" and v.age_s > s.agent_startup_timeout_s
        ]
        crowded = [v.name for v in views if len(v.agents) > 1]
        if orphaned or crowded:
            parts = []
            if orphaned:
                parts.append(
                    f"{len(orphaned)} room(s) with people and no agent for more than "
                    f"{s.agent_startup_timeout_s:g} s: {', '.join(orphaned[:10])}"
                )
            if crowded:
                parts.append(f"{len(crowded)} room(s) with several agents: {', '.join(crowded)}")
            self._add(
                Check(
                    "rooms",
                    Status.FAIL,
                    "; ".join(parts),
                    "run `voxiectl gc` (re-dispatches and removes extra agents); if they stay, "
                    "check the worker checks above and that the backend's reconciler runs",
                    {"without_agent": orphaned, "several_agents": crowded},
                )
            )
            return
        self._add(Check("rooms", Status.PASS, f"{len(views)} platform room(s), each served"))

    async def _agents(self, store: AgentStore) -> None:
        found = await fleet(store)
        if found.unreadable:
            ids = [str(i) for i in found.unreadable]
            self._add(
                Check(
                    "agents",
                    Status.FAIL,
                    f"{len(ids)} stored agent(s) no longer validate against the contract and "
                    f"cannot run: {', '.join(ids[:10])}",
                    "read each with `voxiectl agents show <id>`, then fix or archive it "
                    "(PATCH /api/agents/<id>/raw)",
                    {"unreadable": ids},
                )
            )
            return
        self._add(Check("agents", Status.PASS, f"{len(found.agents)} agent(s), all valid"))

    async def _sessions(self, store: AgentStore, rooms: LiveKitRooms) -> None:
        s = self.settings
        live = {room.name for room in await rooms.list_rooms()}
        now = datetime.now(UTC)
        # The reconciler finalises an open session of a vanished room on its next pass; one
        # still open after two passes (and a startup) is stuck. Any call past its maximum too.
        vanished_after = timedelta(seconds=2 * s.gc_interval_s + s.agent_startup_timeout_s)
        too_long = timedelta(seconds=s.max_call_duration_s + s.grace_period_s + s.gc_interval_s)
        stuck: list[str] = []
        opened = 0
        offset, total = 0, 1
        while offset < total:
            page = await store.list_sessions(open_only=True, limit=200, offset=offset)
            total, offset = page.total, offset + page.limit
            opened += len(page.items)
            for session in page.items:
                age = now - session.started_at
                gone = session.room_name not in live and age > vanished_after
                if gone or age > too_long:
                    stuck.append(f"{session.id} ({session.room_name})")
        if stuck:
            self._add(
                Check(
                    "sessions",
                    Status.FAIL,
                    f"{len(stuck)} session(s) stuck open: {', '.join(stuck[:10])}",
                    "run `voxiectl gc` (finalises them as lost); if they come back, the "
                    "backend's reconciler is not running",
                    {"stuck": stuck},
                )
            )
            return
        self._add(Check("sessions", Status.PASS, f"{opened} open session(s), none stuck"))


async def probe(rooms: LiveKitRooms, agent_name: str, options: Options) -> ProbeResult:
    """Dispatches one probe job to `agent_name` and collects the workers' answers; the room is
    deleted whatever happens. See `shared.contracts.probe`."""
    name = probe_room_name()
    began = time.monotonic()
    await rooms.create(
        NewRoom(
            name=name,
            metadata="",
            agent_name=agent_name,
            dispatch_metadata="",
            empty_timeout_s=60,  # LiveKit removes it even if this process dies first
            departure_timeout_s=1,
            max_participants=1,
        )
    )
    try:
        answers = ProbeAnswers()
        first: float | None = None
        last_change = began
        while True:
            now = time.monotonic()
            if first is None and now - began > options.probe_timeout_s:
                break
            if first is not None and now - last_change > options.probe_settle_s:
                break
            room = await rooms.room(name)
            current = ProbeAnswers.parse(room.metadata if room else "")
            if len(current.answers) > len(answers.answers):
                answers, last_change = current, time.monotonic()
                if first is None:
                    first = last_change - began
            await asyncio.sleep(0.05)
        answered = {a.worker_id for a in answers.answers}
        silent = [
            job.state.worker_id
            for dispatch in await rooms.dispatches(name)
            for job in dispatch.state.jobs
            if job.state.worker_id and job.state.worker_id not in answered
        ]
        return ProbeResult(agent_name, answers.answers, first, silent)
    finally:
        await rooms.delete(name)


def _collision(name: str, ours: str, result: ProbeResult) -> str:
    by_deployment: dict[str, list[str]] = {}
    for answer in result.answers:
        by_deployment.setdefault(answer.deployment, []).append(f"{answer.host}/{answer.pid}")
    named = [
        f"'{d}'{' (this one)' if d == ours else ''} on {', '.join(w)}"
        for d, w in by_deployment.items()
    ]
    text = f"{name} is registered by deployments " + " and ".join(named)
    if result.silent_workers:
        text += (
            f"{' and by' if named else ' by'} worker(s) {', '.join(result.silent_workers)} that "
            "took the probe without answering (not this platform's workers, or an older version)"
        )
    return text


async def _applied_versions(conn: asyncpg.Connection, timeout_s: float) -> set[str]:
    exists = await conn.fetchval(
        "select to_regclass('supabase_migrations.schema_migrations') is not null",
        timeout=timeout_s,
    )
    if not exists:
        return set()
    rows = await conn.fetch(
        "select version from supabase_migrations.schema_migrations", timeout=timeout_s
    )
    return {row["version"] for row in rows}


def _migrations(applied: set[str]) -> Check:
    known = discover()
    missing = [f"{m.version}_{m.name}" for m in known if m.version not in applied]
    unknown = sorted(applied - {m.version for m in known})
    data = {"applied": len(applied), "known": len(known), "missing": missing, "unknown": unknown}
    if missing:
        return Check(
            "migrations",
            Status.FAIL,
            f"{len(missing)} of {len(known)} migration(s) not applied: {', '.join(missing)}",
            "run `voxiectl migrate`",
            data,
        )
    if unknown:
        return Check(
            "migrations",
            Status.WARN,
            f"the database has migration(s) this version does not know: {', '.join(unknown)}",
            "run the platform version that wrote them (this one is older)",
            data,
        )
    return Check("migrations", Status.PASS, f"all {len(known)} migrations applied", data=data)


def _supabase_problem(what: str, response: httpx.Response) -> tuple[str, str] | None:
    if what == "REST":
        if response.status_code in (401, 403):
            return (
                f"refused the service role key ({response.status_code})",
                "set SUPABASE_SERVICE_ROLE_KEY to the project's service_role key",
            )
        if response.status_code >= 400:
            return f"answered {response.status_code}", "check SUPABASE_URL is the project's URL"
        return None
    try:
        keys = response.json().get("keys")
    except (ValueError, AttributeError):
        keys = None
    if response.status_code != 200 or not isinstance(keys, list):
        return (
            f"answered {response.status_code} without a key set",
            "check SUPABASE_JWKS_URL (default: SUPABASE_URL + /auth/v1/.well-known/jwks.json)",
        )
    return None
