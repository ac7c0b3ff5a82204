"""End to end: real `python -m backend`, `python -m spawner start` and `python -m voxie start`
processes against a real livekit-server and the real database, with real rtc clients as the
humans. No OpenAI endpoint is reachable here: OPENAI_BASE_URL points at a closed loopback port,
so these flows test everything around the model (dispatch, joining, lifecycle, records), not
what the model says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _pytest.nodes import Item
from _pytest.reports import TestReport
from _pytest.runner import CallInfo

from shared.livekit_local import LiveKitServer, free_port
from tests.support.livekit_server import livekit_server
from tests.support.processes import ServiceProcess

ADMIN_TOKEN = "operator-token-for-e2e-tests-0123456789abcdef"
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Nothing listens here: a model call fails at once instead of reaching out.
NO_MODEL = "http://127.0.0.1:9/v1"

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="session")
def backend_port() -> int:
    """The backend's port, fixed for the session: the server's webhooks are sent there."""
    return free_port()


@pytest.fixture(scope="session")
def lk(backend_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    """The real LiveKit server for the session, its webhooks to the e2e backend."""
    webhook = f"http://127.0.0.1:{backend_port}/api/livekit/webhook"
    with livekit_server(tmp_path_factory.mktemp("livekit"), webhook_urls=[webhook]) as server:
        yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: Item, call: CallInfo[None]
) -> Generator[None, TestReport, TestReport]:
    """A failed e2e test carries the server's log and every platform process's output."""
    report: TestReport = yield
    if report.failed:
        funcargs: dict[str, Any] = getattr(item, "funcargs", {})
        server = funcargs.get("lk")
        if isinstance(server, LiveKitServer):
            report.sections.append(("livekit-server log", server.log()[-20_000:]))
        for process in _processes(funcargs):
            report.sections.append((f"{process.label} output", process.output()[-20_000:]))
    return report


def _processes(funcargs: dict[str, Any]) -> list[ServiceProcess]:
    found: list[ServiceProcess] = []
    for value in funcargs.values():
        if isinstance(value, ServiceProcess):
            found.append(value)
        elif isinstance(value, Platform):
            found.extend(value.processes)
    return found


def platform_env(
    lk: LiveKitServer, database_url: str, directory: Path, label: str
) -> dict[str, str]:
    return {
        **lk.env(),
        "PLATFORM_ENV": "test",
        "DATABASE_URL": database_url,
        "WORKER_HTTP_PORT": "0",
        "WORKER_EXECUTOR": "thread",
        "WORKER_IDLE_PROCESSES": "2",
        "WORKER_LOAD_CPU": "false",
        "SPOOL_DIR": str(directory / f"{label}-spool"),
        "OPENAI_API_KEY": "sk-e2e-no-model",
        "OPENAI_BASE_URL": NO_MODEL,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        # Teardown stops workers that still hold calls: no need to wait for them.
        "WORKER_DRAIN_TIMEOUT_S": "1",
    }


class Platform:
    """The processes of one test's platform; all stopped at the end."""

    def __init__(self, lk: LiveKitServer, database_url: str, directory: Path, port: int) -> None:
        self.lk = lk
        self.database_url = database_url
        self.directory = directory
        self.port = port
        self.processes: list[ServiceProcess] = []
        self.api = f"http://127.0.0.1:{port}"

    def env(self, label: str, **extra: str) -> dict[str, str]:
        return {**platform_env(self.lk, self.database_url, self.directory, label), **extra}

    def start(self, args: list[str], label: str, **extra: str) -> ServiceProcess:
        process = ServiceProcess(args, self.directory, label=label, env=self.env(label, **extra))
        self.processes.append(process)
        return process

    def backend(self, **extra: str) -> ServiceProcess:
        return self.start(
            ["-m", "backend"],
            "backend",
            BACKEND_PORT=str(self.port),
            BACKEND_ADMIN_TOKEN=ADMIN_TOKEN,
            **extra,
        )

    def spawner(self, label: str = "spawner", **extra: str) -> ServiceProcess:
        return self.start(["-m", "spawner", "start"], label, **extra)

    def voxie(self, label: str = "voxie", **extra: str) -> ServiceProcess:
        return self.start(["-m", "voxie", "start"], label, **extra)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


@pytest.fixture
def platform(
    lk: LiveKitServer, database_url: str, backend_port: int, tmp_path: Path
) -> Iterator[Platform]:
    running = Platform(lk, database_url, tmp_path, backend_port)
    yield running
    running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
