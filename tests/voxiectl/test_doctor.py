"""`voxiectl doctor` against real processes: a real livekit-server, the real database, real
`python -m backend`, `python -m voxie start` and `python -m spawner start`, and the doctor as its
own `python -m voxiectl` process. A healthy platform passes every check; each fault fails its own
check, with the fix.

The commands that go through the backend API (`rooms list|close`, `gc`) are exercised here
too, on the faults they fix. One platform serves the module (starting workers is the slow part);
its backend's reconciler runs only when asked (`voxiectl gc`), so a fault stays put until a test
fixes it. The tests that change the platform (another deployment's spawner, the spawner stopped)
come last and undo or end it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from livekit import api

from shared.naming import agent_room_name
from shared.store.postgres import PostgresStore
from tests.backend.test_agents import insert_poisoned
from tests.e2e.support import OpenCall, eventually, healthy, open_call, registered
from tests.spawner.conftest import new_agent
from tests.support.human import Human
from tests.support.livekit_server import api_client, join_token
from tests.support.openai import OpenAIDouble
from tests.support.platform import ADMIN_TOKEN, Platform
from tests.support.postgres import empty_platform_tables
from tests.support.processes import ServiceProcess
from tests.voxiectl.conftest import Ran, voxiectl
from voxiectl.livekit_local import LiveKitServer, free_port
from voxiectl.local_settings import LocalFiles

pytestmark = pytest.mark.timeout(300)

SPAWNER = "spawner-test"
VOXIE = "voxie-test"
BUSY = "spawner-busy"
# livekit-agents' own log line once a worker's load reaches its threshold.
FULL = "worker is at full capacity, marking as unavailable"


class Running:
    def __init__(self, platform: Platform, spawner: ServiceProcess) -> None:
        self.platform = platform
        self.spawner = spawner

    def env(self, **extra: str) -> dict[str, str]:
        """The doctor's environment: the platform's own, reaching the backend as an operator."""
        reach = {"BACKEND_URL": self.platform.api, "BACKEND_ADMIN_TOKEN": ADMIN_TOKEN}
        return self.platform.env("doctor", **{**reach, **extra})

    async def doctor(self, **extra: str) -> tuple[Ran, dict[str, dict[str, Any]]]:
        ran = await voxiectl(
            "--json",
            "doctor",
            "--probe-timeout",
            "8",
            env=self.env(**extra),
            cwd=self.platform.directory,
        )
        checks = {c["name"]: c for c in ran.json()["checks"]}
        return ran, checks


@pytest.fixture(scope="module")
async def running(
    lk: LiveKitServer,
    database_url: str,
    backend_port: int,
    model: OpenAIDouble,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Running]:
    # Rows other tests left (open sessions of long-gone rooms, poisoned agents) are faults the
    # doctor would rightly report: this platform starts from an empty database.
    await empty_platform_tables(database_url)
    directory = tmp_path_factory.mktemp("doctor")
    platform = Platform(lk, database_url, directory, backend_port, model.env())
    try:
        backend = platform.backend(GC_INTERVAL_S="3600")
        spawner, voxie = platform.spawner(), platform.voxie()
        async with httpx.AsyncClient(timeout=10) as http:
            await healthy(http, platform.api, backend)
        await registered(spawner, voxie)
        yield Running(platform, spawner)
    finally:
        platform.stop()


def statuses(checks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: check["status"] for name, check in checks.items()}


async def test_a_healthy_platform_passes_every_check(running: Running) -> None:
    ran, checks = await running.doctor()
    assert ran.code == 0, (ran.stdout, ran.stderr)
    assert ran.json()["ok"] is True
    assert statuses(checks) == {
        "settings": "pass",
        "database": "pass",
        "migrations": "pass",
        "supabase": "skip",  # not configured
        "livekit": "pass",
        "webhook": "pass",
        f"worker {VOXIE}": "pass",
        f"worker {SPAWNER}": "pass",
        "agent names": "pass",
        "webhook delivery": "pass",  # LiveKit told the backend about the probe rooms
        "rooms": "pass",
        "agents": "pass",
        "sessions": "pass",
    }, checks
    for name in (VOXIE, SPAWNER):
        probe = checks[f"worker {name}"]["data"]
        assert probe["first_answer_ms"] > 0
        assert [w["deployment"] for w in probe["workers"]] == ["test"]
        print(f"{name}: probe job answered {probe['first_answer_ms']:.0f} ms after creation")
    # The probe left nothing behind: its rooms are deleted, the database untouched.
    async with api_client(running.platform.lk) as lkapi:
        rooms = await lkapi.room.list_rooms(api.ListRoomsRequest())
    assert [r.name for r in rooms.rooms if r.name.startswith("platform-probe-")] == []


async def test_beside_scripts_start_it_reads_the_keys_the_launcher_kept(
    running: Running, tmp_path: Path
) -> None:
    """Issue 22: the doctor crashed beside `scripts/start` (no LIVEKIT_* in its shell): it finds
    the local server's keys and the operator token where the launcher keeps them."""
    lk = running.platform.lk
    data = tmp_path / ".data"
    files = LocalFiles(data)
    files.livekit_dir.mkdir(parents=True)
    credentials = lk.config.credentials
    files.livekit_keys.write_text(f"{credentials.api_key}: {credentials.api_secret}\n")
    files.operator_token.write_text(ADMIN_TOKEN + "\n")
    env = {
        k: v
        for k, v in running.env().items()
        if not k.startswith("LIVEKIT_") and k != "BACKEND_ADMIN_TOKEN"
    }
    env |= {"LOCAL_DB_DIR": str(data / "postgres"), "LOCAL_LIVEKIT_PORT": str(lk.config.http_port)}
    ran = await voxiectl("--json", "doctor", "--probe-timeout", "8", env=env, cwd=tmp_path)
    assert "Traceback" not in ran.stderr
    checks = {c["name"]: c for c in ran.json()["checks"]}
    assert ran.code == 0, checks
    assert checks["livekit"]["status"] == "pass" and checks["webhook"]["status"] == "pass"
    rooms = await voxiectl("--json", "rooms", "list", env=env, cwd=tmp_path)
    assert rooms.code == 0, rooms.stderr

    # With no keys kept and none set, it says what to do instead of a traceback.
    files.livekit_keys.unlink()
    bare = await voxiectl("--json", "doctor", env=env, cwd=tmp_path)
    assert bare.code == 1 and "Traceback" not in bare.stderr
    livekit = {c["name"]: c for c in bare.json()["checks"]}["livekit"]
    assert livekit["status"] == "fail" and "scripts/start" in livekit["fix"]


async def test_database_down(running: Running) -> None:
    closed = f"postgresql://postgres:postgres@127.0.0.1:{free_port()}/voxie"
    ran, checks = await running.doctor(DATABASE_URL=closed)
    assert ran.code == 1
    database = checks["database"]
    assert database["status"] == "fail" and "cannot connect" in database["detail"]
    assert "DATABASE_URL" in database["fix"]
    for dependent in ("migrations", "agents", "sessions"):
        assert checks[dependent]["status"] == "skip"
    assert checks[f"worker {SPAWNER}"]["status"] == "pass"  # the rest is still checked


async def test_wrong_livekit_secret(running: Running) -> None:
    ran, checks = await running.doctor(LIVEKIT_API_SECRET="not-the-servers-secret-" + "x" * 20)
    assert ran.code == 1
    livekit = checks["livekit"]
    assert livekit["status"] == "fail" and "credentials" in livekit["detail"]
    assert "LIVEKIT_API_SECRET" in livekit["fix"]
    # The backend verifies webhooks with the right pair: it refuses this one's signature.
    assert (
        checks["webhook"]["status"] == "fail" and "LIVEKIT_API_SECRET" in checks["webhook"]["fix"]
    )
    assert checks[f"worker {SPAWNER}"]["status"] == "skip"


async def test_a_backend_livekit_sends_no_webhooks_to(running: Running) -> None:
    """A second backend with the right keys accepts the signed test event, but LiveKit's
    `webhook.urls` names the first one: the doctor pointed at the second warns (exit 0)."""
    platform = running.platform
    port = free_port()
    other = platform.backend("backend-unhooked", BACKEND_PORT=str(port), GC_INTERVAL_S="3600")
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await healthy(http, f"http://127.0.0.1:{port}", other)
        ran, checks = await running.doctor(BACKEND_URL=f"http://127.0.0.1:{port}")
        assert ran.code == 0, checks
        assert checks["webhook"]["status"] == "pass"
        delivery = checks["webhook delivery"]
        assert delivery["status"] == "warn" and "webhook.urls" in delivery["detail"]
        assert "/api/livekit/webhook" in delivery["fix"]
    finally:
        other.stop()


async def test_an_agent_that_no_longer_validates(running: Running) -> None:
    bad = await insert_poisoned(running.platform.database_url)
    try:
        ran, checks = await running.doctor()
        assert ran.code == 1
        agents = checks["agents"]
        assert agents["status"] == "fail" and agents["data"]["unreadable"] == [str(bad)]
        assert "voxiectl agents show" in agents["fix"]
    finally:
        await empty_platform_tables(running.platform.database_url)


async def test_a_room_without_an_agent_and_closing_it(running: Running) -> None:
    """A room with a person and no agent (here: created without a dispatch) is reported; the
    operator finds it with `rooms list` and closes it with `rooms close`."""
    platform = running.platform
    room = agent_room_name(uuid.uuid4())
    async with api_client(platform.lk) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=60))
    human = await Human.join(platform.lk.url, join_token(platform.lk, room, "user:stranded"))
    try:
        ran, checks = await running.doctor(AGENT_STARTUP_TIMEOUT_S="0.5")
        assert ran.code == 1
        rooms = checks["rooms"]
        assert rooms["status"] == "fail" and rooms["data"]["without_agent"] == [room]
        assert "voxiectl gc" in rooms["fix"]
        env, cwd = running.env(), platform.directory
        listed = (await voxiectl("--json", "rooms", "list", env=env, cwd=cwd)).json()
        [view] = [r for r in listed["rooms"] if r["name"] == room]
        assert view["state"] == "waiting_for_agent" and view["humans"] == ["user:stranded"]
        # For people too (a pipe is 80 columns wide): the whole name, to paste into `close`.
        text = await voxiectl("rooms", "list", env=env, cwd=cwd)
        assert room in text.stdout, text.stdout
        closed = await voxiectl("--json", "rooms", "close", room, env=env, cwd=cwd)
        assert closed.code == 0 and closed.json() == {"room_name": room, "closed": True}
        again = await voxiectl("--json", "rooms", "close", room, env=env, cwd=cwd)
        assert again.code == 1 and "404" in again.json()["error"]
        ran, checks = await running.doctor(AGENT_STARTUP_TIMEOUT_S="0.5")
        assert checks["rooms"]["status"] == "pass", checks["rooms"]
    finally:
        await human.leave()


async def test_a_session_stuck_open_and_gc_finalising_it(running: Running) -> None:
    """A session row left open for an hour by a room that is gone (its worker died): reported;
    `voxiectl gc` runs the reconciler pass that finalises it as lost."""
    room = agent_room_name(uuid.uuid4())
    conn = await asyncpg.connect(running.platform.database_url)
    try:
        session_id = await conn.fetchval(
            "insert into public.call_sessions (room_name, kind, deployment, started_at)"
            " values ($1, 'test', 'test', now() - interval '1 hour') returning id",
            room,
        )
        ran, checks = await running.doctor()
        assert ran.code == 1
        sessions = checks["sessions"]
        assert sessions["status"] == "fail", sessions
        assert sessions["data"]["stuck"] == [f"{session_id} ({room})"]
        assert "voxiectl gc" in sessions["fix"]
        gc = await voxiectl("--json", "gc", env=running.env(), cwd=running.platform.directory)
        assert gc.code == 0, gc.stderr
        actions = gc.json()["actions"]
        assert {"action": "finalised_lost_session", "room": room, "detail": str(session_id)} in [
            {k: a.get(k) for k in ("action", "room", "detail")} for a in actions
        ], actions
        assert (
            await conn.fetchval(
                "select end_reason from public.call_sessions where id = $1", session_id
            )
            == "lost"
        )
        ran, checks = await running.doctor()
        assert checks["sessions"]["status"] == "pass", checks["sessions"]
        # Without --json, a sentence for people (it printed the JSON document unasked).
        said = await voxiectl("gc", env=running.env(), cwd=running.platform.directory)
        assert said.code == 0 and said.stdout.startswith("looked at "), said.stdout
        assert "{" not in said.stdout
    finally:
        await conn.close()


async def test_a_spawner_that_is_registered_but_full(running: Running) -> None:
    """Issue 22: a spawner with no room for another call takes no probe job (LiveKit offers jobs
    only to workers below their load threshold); the doctor says it is full, from the call it
    runs, not that none is registered. It runs under its own agent name, with room for one call,
    which a backend dispatching to that name opens."""
    platform = running.platform
    port = free_port()
    api_base = f"http://127.0.0.1:{port}"
    backend = platform.backend(
        "backend-busy", BACKEND_PORT=str(port), GC_INTERVAL_S="3600", SPAWNER_AGENT_NAME=BUSY
    )
    spawner = platform.spawner("spawner-busy", SPAWNER_AGENT_NAME=BUSY, WORKER_MAX_SESSIONS="1")
    store = await PostgresStore.connect(platform.database_url)
    call: OpenCall | None = None
    try:
        agent = await store.create_agent(new_agent())
        async with httpx.AsyncClient(timeout=10) as http:
            await healthy(http, api_base, backend)
            await registered(spawner)
            call = await open_call(http, api_base, agent.id)
        await eventually(lambda: spawner.events(FULL), what="the spawner to report itself full")
        ran, checks = await running.doctor(SPAWNER_AGENT_NAME=BUSY)
        assert ran.code == 1
        worker = checks[f"worker {BUSY}"]
        assert worker["status"] == "fail", worker
        assert f"1 spawner registered under {BUSY}, all full" in worker["detail"], worker
        assert call.room in worker["detail"] and "none is registered" not in worker["detail"]
        assert "WORKER_MAX_SESSIONS" in worker["fix"] and "start one" not in worker["fix"]
        assert list(worker["data"]["full_workers"].values()) == [[call.room]]
        assert checks[f"worker {VOXIE}"]["status"] == "pass"
    finally:
        if call is not None:
            await call.human.leave()
        spawner.stop()
        backend.stop()
        await store.close()


async def test_two_deployments_under_one_agent_name(running: Running) -> None:
    """The seeds' staging outage: a `staging` spawner registers this deployment's name."""
    staging = running.platform.spawner(
        "spawner-staging", PLATFORM_ENV="staging", SPAWNER_AGENT_NAME=SPAWNER
    )
    try:
        await registered(staging)
        ran, checks = await running.doctor()
        assert ran.code == 1
        names = checks["agent names"]
        assert names["status"] == "fail", checks
        assert f"{SPAWNER} is registered by deployments" in names["detail"]
        assert "'test' (this one)" in names["detail"] and "'staging'" in names["detail"]
        assert "PLATFORM_ENV" in names["fix"]
        deployments = {w["deployment"] for w in checks[f"worker {SPAWNER}"]["data"]["workers"]}
        assert deployments == {"test", "staging"}
        assert checks[f"worker {SPAWNER}"]["status"] == "pass"  # ours is there too
    finally:
        staging.stop()


async def test_no_spawner_running(running: Running) -> None:
    """Last: it stops the module's spawner."""
    running.spawner.stop()
    ran, checks = await running.doctor()
    assert ran.code == 1
    worker = checks[f"worker {SPAWNER}"]
    assert worker["status"] == "fail" and "none is registered" in worker["detail"]
    assert "full_workers" in worker["data"] and worker["data"]["full_workers"] == {}
    assert "python -m spawner start" in worker["fix"] and "PLATFORM_ENV=test" in worker["fix"]
    assert checks[f"worker {VOXIE}"]["status"] == "pass"


async def test_the_text_report_names_each_check_and_its_fix(running: Running) -> None:
    ran = await voxiectl(
        "doctor",
        "--probe-timeout",
        "3",
        env=running.env(LIVEKIT_API_SECRET="y" * 40),
        cwd=running.platform.directory,
    )
    assert ran.code == 1
    assert "FAIL  livekit:" in ran.stdout and "fix: set LIVEKIT_API_KEY" in ran.stdout
    assert "pass  database:" in ran.stdout
    assert "check(s) failed" in ran.stdout
