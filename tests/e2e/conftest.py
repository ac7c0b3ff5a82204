"""End to end: real `python -m backend`, `python -m spawner start` and `python -m voxie start`
processes against a real livekit-server and the real database, with real rtc clients as the
humans. The model is the OpenAI double, unscripted: these flows test everything around the
model (dispatch, joining, lifecycle, records), not what it says (tests/e2e/test_calls.py
scripts that).
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

from tests.support.livekit_server import livekit_server
from tests.support.openai import OpenAIDouble
from tests.support.platform import Platform
from tests.support.processes import ServiceProcess
from voxiectl.livekit_local import LiveKitServer, free_port


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
        elif isinstance(getattr(value, "platform", None), Platform):  # a module's shared one
            found.extend(value.platform.processes)
    return found


@pytest.fixture(scope="session")
def model() -> Iterator[OpenAIDouble]:
    """The model every e2e worker talks to (a realtime session needs one to stay up)."""
    with OpenAIDouble() as double:
        yield double


@pytest.fixture
def platform(
    lk: LiveKitServer, database_url: str, backend_port: int, tmp_path: Path, model: OpenAIDouble
) -> Iterator[Platform]:
    running = Platform(lk, database_url, tmp_path, backend_port, model.env())
    yield running
    running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
