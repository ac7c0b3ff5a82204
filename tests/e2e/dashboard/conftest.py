"""One platform for the dashboard's browser tests: real `python -m backend` (serving the built
dashboard, PLATFORM_ENV=dev on loopback, so the one-click dev sign-in exists), a Voxie and a
spawner worker on the session's real livekit-server, the OpenAI double as every model, the real
database; and Playwright. The tests run one after the other on it, each scripting the double
afresh; a failed test's report carries every process's output (tests/e2e/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from playwright.async_api import Playwright

from shared.contracts.dispatch import DEV_USER_ID
from shared.secret_box import new_key
from tests.e2e.dashboard.browser import check_prerequisites, playwright
from tests.e2e.support import healthy, registered
from tests.support.openai import OpenAIDouble
from tests.support.platform import Platform
from tests.support.processes import ServiceProcess
from voxiectl.livekit_local import LiveKitServer

# Long enough to see the operator's grace countdown and close the room by hand; short enough
# that a call the test hung up is recorded soon after.
GRACE_S = "30"
# One agent room at a time: a second test call while one is still in its grace period is the
# capacity refusal (429) the pages must explain.
MAX_TOTAL_AGENTS = "1"


@dataclass
class Dashboard:
    platform: Platform
    double: OpenAIDouble
    pw: Playwright
    backend: ServiceProcess
    directory: Path
    database_url: str

    @property
    def url(self) -> str:
        return self.platform.api


@pytest.fixture(scope="module")
def double() -> Iterator[OpenAIDouble]:
    with OpenAIDouble() as running:
        yield running


@pytest.fixture(scope="module")
async def dashboard(
    lk: LiveKitServer,
    database_url: str,
    backend_port: int,
    tmp_path_factory: pytest.TempPathFactory,
    double: OpenAIDouble,
) -> AsyncIterator[Dashboard]:
    check_prerequisites()
    directory = tmp_path_factory.mktemp("dashboard")
    conn = await asyncpg.connect(database_url)
    try:  # the dev user starts with no agents (other e2e modules share the database)
        await conn.execute("delete from public.agents where owner_id = $1", DEV_USER_ID)
    finally:
        await conn.close()
    platform = Platform(lk, database_url, directory, backend_port, double.env())
    # Keys of its own, so the Secrets page can store secrets and the Developers page mint API
    # keys (the dev launcher keeps both too).
    env = {
        "PLATFORM_ENV": "dev",
        "GRACE_PERIOD_S": GRACE_S,
        "SECRETS_KEYS": json.dumps([new_key()]),
        "API_KEY_HASH_KEYS": json.dumps([new_key()]),
    }
    try:
        backend = platform.backend(**env, MAX_TOTAL_AGENTS=MAX_TOTAL_AGENTS)
        spawner = platform.spawner(**env)
        voxie = platform.voxie(**env)
        async with httpx.AsyncClient(timeout=10) as http:
            await healthy(http, platform.api, backend)
        await registered(spawner, voxie)
        async with playwright() as pw:
            yield Dashboard(platform, double, pw, backend, directory, database_url)
    finally:
        platform.stop()
