"""A whole platform as real processes for end-to-end tests and benchmarks: `python -m backend`,
`python -m spawner start`, `python -m voxie start` against a real livekit-server and a real
database. The models are wherever `model_url` points: the OpenAI double in tests (an agent
that can talk lives until its call ends), by default a closed loopback port (a model call
fails at once instead of reaching out, and the session then ends with an error).
"""

from __future__ import annotations

from pathlib import Path

from shared.livekit_local import LiveKitServer
from tests.support.processes import ServiceProcess

ADMIN_TOKEN = "operator-token-for-e2e-tests-0123456789abcdef"
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NO_MODEL = "http://127.0.0.1:9/v1"


def platform_env(
    lk: LiveKitServer, database_url: str, directory: Path, label: str, model_url: str = NO_MODEL
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
        "OPENAI_BASE_URL": model_url,
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
        *,
        model_url: str = NO_MODEL,
    ) -> None:
        self.lk = lk
        self.model_url = model_url
        self.database_url = database_url
        self.directory = directory
        self.port = port
        self.processes: list[ServiceProcess] = []
        self.api = f"http://127.0.0.1:{port}"

    def env(self, label: str, **extra: str) -> dict[str, str]:
        own = platform_env(self.lk, self.database_url, self.directory, label, self.model_url)
        return {**own, **extra}

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
