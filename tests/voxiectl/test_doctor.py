"""`voxiectl doctor` against real processes: a real livekit-server, the real database, real
`python -m backend`, `python -m voxie start` and `python -m spawner start`, and the doctor as its
own `python -m voxiectl` process. A healthy platform passes every check; each fault fails its own
check, with the fix.

One platform serves the module (starting workers is the slow part); the tests that change it
(another deployment's spawner, the spawner stopped) come last and undo or end it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from livekit import api

from shared.livekit_local import LiveKitServer, free_port
from tests.backend.test_agents import insert_poisoned
from tests.e2e.support import healthy, registered
from tests.support.livekit_server import api_client
from tests.support.openai import OpenAIDouble
from tests.support.platform import ADMIN_TOKEN, Platform
from tests.support.postgres import empty_platform_tables
from tests.support.processes import ServiceProcess
from tests.voxiectl.conftest import Ran, voxiectl

pytestmark = pytest.mark.timeout(300)

SPAWNER = "spawner-test"
VOXIE = "voxie-test"


class Running:
    def __init__(self, platform: Platform, spawner: ServiceProcess) -> None:
        self.platform = platform
        self.spawner = spawner

    def env(self, **extra: str) -> dict[str, str]:
        """The doctor's environment: the platform's own, reaching the backend as an operator."""
        return self.platform.env(
            "doctor", BACKEND_URL=self.platform.api, BACKEND_ADMIN_TOKEN=ADMIN_TOKEN, **extra
        )

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
        backend = platform.backend()
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
