"""The image's entry point and health check, run for real outside a container: the role
argument starts the real process (migrate on a real database, the backend, a spawner on the
LiveKit double), and the health check the image's HEALTHCHECK runs judges them.

The image puts its virtual environment first on PATH; so do these tests with `.venv`.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.environment import assert_migrates
from tests.support.livekit import LiveKitDouble
from tests.support.processes import REPO_ROOT, ServiceProcess
from voxiectl.livekit_local import free_port

ENTRYPOINT = REPO_ROOT / "deploy/docker/entrypoint.sh"
HEALTHCHECK = REPO_ROOT / "deploy/docker/healthcheck.py"
IMAGE_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def healthcheck(*roles: str, **ports: int) -> subprocess.CompletedProcess[str]:
    env = {"PATH": IMAGE_PATH, **{name: str(port) for name, port in ports.items()}}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *roles],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


async def until_healthy(process: ServiceProcess, *roles: str, **ports: int) -> None:
    """Polls the health check as Docker would, until it passes or the process has died."""
    last = None
    for _ in range(300):
        last = await asyncio.to_thread(healthcheck, *roles, **ports)
        if last.returncode == 0 or process.returncode is not None:
            break
        await asyncio.sleep(0.2)
    assert last is not None and last.returncode == 0, f"{last}\n{process.output()}"


def test_an_unknown_role_is_refused_with_the_usage() -> None:
    result = subprocess.run(
        [str(ENTRYPOINT), "worker"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 64
    assert "backend | voxie | spawner | migrate" in result.stderr and "'worker'" in result.stderr


async def test_migrate_applies_the_migrations_and_exits(pg_server: str) -> None:
    env = {"PATH": IMAGE_PATH, "PLATFORM_ENV": "test", "LOG_FORMAT": "json"}
    await assert_migrates([str(ENTRYPOINT), "migrate"], env, pg_server)


@pytest.mark.timeout(90)
async def test_the_backend_role_serves_and_the_health_check_follows_it(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    backend = ServiceProcess(
        ["backend"],
        tmp_path,
        label="backend",
        program=str(ENTRYPOINT),
        env={
            "PATH": IMAGE_PATH,
            "DATABASE_URL": database_url,
            "PLATFORM_ENV": "test",
            "BACKEND_HOST": "127.0.0.1",
            "BACKEND_PORT": str(port),
        },
    )
    try:
        await until_healthy(backend, "backend", BACKEND_PORT=port)
        # The image's HEALTHCHECK names no role: it finds the backend on its port.
        assert healthcheck(BACKEND_PORT=port, WORKER_HTTP_PORT=free_port()).returncode == 0
        # `exec`: the backend is the entry point's process itself (PID 1 in the container),
        cmdline = await asyncio.to_thread(Path(f"/proc/{backend.pid}/cmdline").read_bytes)
        command_line = cmdline.split(b"\0")
        assert command_line[1:3] == [b"-m", b"backend"], command_line
        # so SIGTERM reaches it and
        # it shuts down cleanly (uvicorn then re-raises the signal: exit status -SIGTERM).
        assert backend.stop() in (0, -signal.SIGTERM), backend.output()
        assert "Application shutdown complete" in backend.output()
    finally:
        backend.kill()
    stopped = healthcheck("backend", BACKEND_PORT=port)
    assert stopped.returncode == 1 and "nothing listening" in stopped.stdout


@pytest.mark.timeout(120)
async def test_the_spawner_role_registers_and_its_health_port_answers(
    database_url: str, livekit: LiveKitDouble, tmp_path: Path
) -> None:
    port = free_port()
    spawner = ServiceProcess(
        ["spawner"],
        tmp_path,
        label="spawner",
        program=str(ENTRYPOINT),
        env={
            **livekit.env(),
            "PATH": IMAGE_PATH,
            "DATABASE_URL": database_url,
            "PLATFORM_ENV": "test",
            "OPENAI_API_KEY": "sk-not-used",
            "WORKER_HTTP_PORT": str(port),
            "WORKER_IDLE_PROCESSES": "1",
            "SPOOL_DIR": str(tmp_path / "spool"),
            "LOG_FORMAT": "json",
        },
    )
    try:
        await livekit.wait_for_workers(1, "spawner-test", within=60)
        await until_healthy(spawner, "worker", WORKER_HTTP_PORT=port)
        assert healthcheck(BACKEND_PORT=free_port(), WORKER_HTTP_PORT=port).returncode == 0
    finally:
        spawner.stop()
        spawner.kill()


@pytest.fixture
def failing_server() -> Iterator[int]:
    """A server that answers every GET with 503, as a worker that lost LiveKit does."""

    class Unhealthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Unhealthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    thread.join()


def test_an_answering_but_unhealthy_server_fails_the_check(failing_server: int) -> None:
    result = healthcheck("worker", WORKER_HTTP_PORT=failing_server)
    assert result.returncode == 1 and ": 503" in result.stdout
    # Without a role too: a 503 on one port is not rescued by trying the other.
    assert healthcheck(WORKER_HTTP_PORT=failing_server, BACKEND_PORT=free_port()).returncode == 1


def test_nothing_listening_anywhere_is_unhealthy_and_a_bad_role_is_a_usage_error() -> None:
    assert healthcheck(BACKEND_PORT=free_port(), WORKER_HTTP_PORT=free_port()).returncode == 1
    assert healthcheck("database").returncode == 2
