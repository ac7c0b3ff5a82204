"""The environment a deployment file (Compose, Helm, systemd) hands a platform process, checked
the way the process itself reads it: `Settings()` from the environment, then the component's
start-up validation. A variable the settings do not know is reported too: a misspelt or
renamed setting would otherwise be ignored without a word.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from unittest import mock

import asyncpg

from shared.settings import Component, Settings
from tests.support.postgres import PLATFORM_TABLES, create_database
from tests.support.processes import REPO_ROOT

ENV_EXAMPLE = REPO_ROOT / ".env.example"

# Variables platform containers carry that are not platform settings: the image's own.
NOT_SETTINGS = frozenset(
    {
        "PATH",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "HF_HOME",
        "HF_HUB_OFFLINE",
        "XDG_CACHE_HOME",
    }
)

# What an operator puts in the secret store; fake, and shaped to pass production validation.
SECRET_VALUES = {
    "LIVEKIT_API_KEY": "APIdeploytest",
    "LIVEKIT_API_SECRET": "deploy-test-secret-of-at-least-32-characters",
    "OPENAI_API_KEY": "sk-deploy-test",
    "DATABASE_URL": "postgresql://voxie:pw@db.example.internal:5432/voxie",
    "BACKEND_ADMIN_TOKEN": "deploy-test-operator-token",
}


def dotenv(changes: Mapping[str, str] | None = None, path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """The variables a `.env`-style file sets (commented lines set nothing), with `changes` as an
    operator would edit them in: what Compose's env_file and systemd's EnvironmentFile read."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values | dict(changes or {})


def settings_from(env: Mapping[str, str], component: Component) -> Settings:
    """The settings `component` builds from exactly `env` (no `.env` file, nothing ambient),
    after its own start-up check; a refusal raises `ConfigError` naming the variable."""
    with mock.patch.dict(os.environ, dict(env), clear=True):
        settings = Settings(_env_file=None)
    settings.validate_for(component)
    return settings


def unknown_variables(env: Mapping[str, str]) -> set[str]:
    """Names in `env` that neither the settings nor the image read."""
    known = {name.upper() for name in Settings.model_fields} | NOT_SETTINGS
    return set(env) - known


async def assert_migrates(command: Sequence[str], env: Mapping[str, str], pg_server: str) -> None:
    """Runs a deployment's migrate command with `env` and DATABASE_URL naming a fresh database,
    and asserts that it exits 0 having created every platform table."""
    dsn = await create_database(pg_server, prefix="voxie_deploy_migrate")
    result = await asyncio.to_thread(
        subprocess.run,
        list(command),
        env={**env, "DATABASE_URL": dsn},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    conn = await asyncpg.connect(dsn)
    try:
        tables = {r["tablename"] for r in await conn.fetch("select tablename from pg_tables")}
    finally:
        await conn.close()
    assert set(PLATFORM_TABLES.split(", ")) <= tables
