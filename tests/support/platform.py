"""A whole platform as real processes for end-to-end tests and benchmarks: `python -m backend`,
`python -m spawner start`, `python -m voxie start` against a real livekit-server and a real
database. No OpenAI endpoint is reachable here: the model is the OpenAI double
(`tests/support/openai/`), whose `env()` the platform is given.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from pathlib import Path

from tests.support.processes import ServiceProcess
from voxiectl.livekit_local import LiveKitServer

ADMIN_TOKEN = "operator-token-for-e2e-tests-0123456789abcdef"
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def platform_env(
    lk: LiveKitServer,
    database_url: str,
    directory: Path,
    label: str,
    model_env: Mapping[str, str],
) -> dict[str, str]:
    return {
        **model_env,
        **lk.env(),
        "PLATFORM_ENV": "test",
        "DATABASE_URL": database_url,
        "WORKER_HTTP_PORT": "0",
        "WORKER_EXECUTOR": "thread",
        "WORKER_IDLE_PROCESSES": "2",
        "WORKER_LOAD_CPU": "false",
        "SPOOL_DIR": str(directory / f"{label}-spool"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        # Teardown stops workers that still hold calls: no need to wait for them.
        "WORKER_DRAIN_TIMEOUT_S": "1",
    }


class Platform:
    """The processes of one test's platform; all stopped at the end."""

    def __init__(
        self,
        lk: LiveKitServer,
        database_url: str,
        directory: Path,
        port: int,
        model_env: Mapping[str, str],
    ) -> None:
        self.lk = lk
        self.model_env = model_env
        self.database_url = database_url
        self.directory = directory
        self.port = port
        self.processes: list[ServiceProcess] = []
        self.api = f"http://127.0.0.1:{port}"

    def env(self, label: str, **extra: str) -> dict[str, str]:
        base = platform_env(self.lk, self.database_url, self.directory, label, self.model_env)
        return {**base, **extra}

    def start(self, args: list[str], label: str, **extra: str) -> ServiceProcess:
        process = ServiceProcess(args, self.directory, label=label, env=self.env(label, **extra))
        self.processes.append(process)
        return process

    def backend(self, label: str = "backend", **extra: str) -> ServiceProcess:
        """A backend on the platform's port (another replica: pass its own BACKEND_PORT)."""
        env = {"BACKEND_PORT": str(self.port), "BACKEND_ADMIN_TOKEN": ADMIN_TOKEN, **extra}
        return self.start(["-m", "backend"], label, **env)

    def spawner(self, label: str = "spawner", **extra: str) -> ServiceProcess:
        return self.start(["-m", "spawner", "start"], label, **extra)

    def voxie(self, label: str = "voxie", **extra: str) -> ServiceProcess:
        return self.start(["-m", "voxie", "start"], label, **extra)

    def stop(self) -> None:
        # All at once: each worker drains on its own; waiting for one before the next adds up.
        for process in self.processes:
            process.signal(signal.SIGTERM)
        for process in reversed(self.processes):
            process.stop()
