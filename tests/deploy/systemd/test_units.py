"""deploy/systemd: `systemd-analyze verify` accepts the units (installed at a test prefix, so
the executables they name exist), and the platform's rules hold: restart always, SIGTERM to the
worker alone with a stop timeout above the drain, the environment file, a dedicated user, the
hardening, the spool in the state directory, distinct ports per spawner replica, and settings
each process accepts in production. The migrate unit's command runs for real."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import Component
from tests.deploy.environment import (
    SECRET_VALUES,
    assert_migrates,
    dotenv,
    settings_from,
    unknown_variables,
)
from tests.support.processes import REPO_ROOT
from tests.test_env_example import COMPOSE

UNITS = REPO_ROOT / "deploy/systemd"
PREFIX = "/opt/voxie"
ENV_FILE = "/etc/voxie/voxie.env"
STATE = "/var/lib/voxie"
MODULES = {
    "voxie-backend.service": ["-m", "backend"],
    "voxie.service": ["-m", "voxie", "start"],
    "spawner@.service": ["-m", "spawner", "start"],
    "voxie-migrate.service": ["-m", "shared.db", "migrate"],
}
LONG_RUNNING: dict[str, Component] = {
    "voxie-backend.service": "backend",
    "voxie.service": "voxie",
    "spawner@.service": "spawner",
}
WORKERS = ("voxie.service", "spawner@.service")
ALL = [*LONG_RUNNING, "voxie-migrate.service"]

Unit = dict[str, dict[str, list[str]]]


def parse(name: str, instance: str = "") -> Unit:
    """Section -> key -> values (keys may repeat), with `%i` expanded as systemd does."""
    sections: Unit = {}
    current: dict[str, list[str]] = {}
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip().replace("%i", instance))
    return sections


def one(unit: Unit, section: str, key: str) -> str:
    [value] = unit[section][key]
    return value


def command(unit: Unit) -> tuple[dict[str, str], list[str]]:
    """ExecStart as (the variables `env` sets on it, the program and its arguments)."""
    words = shlex.split(one(unit, "Service", "ExecStart"))
    assigned: dict[str, str] = {}
    if words[0] == "/usr/bin/env":
        words.pop(0)
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            assigned[name] = value
    return assigned, words


def process_env(name: str, instance: str = "") -> dict[str, str]:
    """The environment file an operator made from .env.example, secrets filled in, for a
    production deployment; then what the unit's command line sets, which wins."""
    unit = parse(name, instance)
    assert unit["Service"]["EnvironmentFile"][0] == ENV_FILE
    operator_file = dotenv(SECRET_VALUES | {"PLATFORM_ENV": "prod"})
    return operator_file | command(unit)[0]


def seconds(value: str) -> float:
    units = {"min": 60, "s": 1, "": 1}
    number = value.rstrip("mins")
    return float(number) * units[value[len(number) :]]


@pytest.fixture(scope="module")
def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (.ci/run does)")
    return found


def install(directory: Path) -> Path:
    """The units as installed at a test prefix (verify checks that ExecStart programs exist),
    with the project's Python where /opt/voxie/.venv/bin/python would be."""
    prefix = directory / "opt-voxie"
    (prefix / ".venv/bin").mkdir(parents=True)
    (prefix / ".venv/bin/python").symlink_to(sys.executable)
    installed = directory / "units"
    installed.mkdir()
    for unit in UNITS.glob("*.service"):
        (installed / unit.name).write_text(unit.read_text().replace(PREFIX, str(prefix)))
    return installed


def verify(analyze: str, installed: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [analyze, "verify", *units],
        cwd=installed,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{installed}:"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_systemd_analyze_verifies_the_units(analyze: str, tmp_path: Path) -> None:
    installed = install(tmp_path)
    assert sorted(p.name for p in installed.iterdir()) == sorted(ALL)
    # The template through two of its instances.
    units = ["spawner@1.service", "spawner@4.service", *(u for u in ALL if "@" not in u)]
    result = verify(analyze, installed, *units)
    assert result.returncode == 0 and not result.stderr.strip(), result.stdout + result.stderr


def test_the_verification_can_fail(analyze: str, tmp_path: Path) -> None:
    installed = install(tmp_path)
    unit = installed / "voxie.service"
    unit.write_text(unit.read_text().replace("/usr/bin/env ", "/usr/bin/no-such-env "))
    assert verify(analyze, installed, "voxie.service").returncode != 0


@pytest.mark.parametrize("name", ALL)
def test_each_unit_runs_as_a_dedicated_user_from_the_environment_file_hardened(name: str) -> None:
    service = parse(name)["Service"]
    assert service["User"] == ["voxie"] and service["Group"] == ["voxie"]
    assert service["EnvironmentFile"][0] == ENV_FILE
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "StateDirectory": "voxie",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == [value], key
    program = command(parse(name))[1]
    assert program == [f"{PREFIX}/.venv/bin/python", *MODULES[name]]


@pytest.mark.parametrize("name", list(LONG_RUNNING))
def test_long_running_units_restart_and_wait_for_the_migrations(name: str) -> None:
    unit = parse(name)
    assert one(unit, "Service", "Restart") == "always"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert "voxie-migrate.service" in one(unit, "Unit", "Requires")
    assert "voxie-migrate.service" in one(unit, "Unit", "After")
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


@pytest.mark.parametrize("name", WORKERS)
def test_workers_drain_before_systemd_kills_them(name: str) -> None:
    unit = parse(name, "1")
    settings = settings_from(process_env(name, "1"), LONG_RUNNING[name])
    stop = seconds(one(unit, "Service", "TimeoutStopSec"))
    assert stop >= settings.worker_drain_timeout_s + 30
    # Only the worker gets SIGTERM: its job processes are its to stop while it drains.
    assert one(unit, "Service", "KillMode") == "mixed"
    # The spool is in the state directory, the one place the unit may write.
    assert settings.spool_dir.is_relative_to(STATE)


@pytest.mark.parametrize("name", list(LONG_RUNNING))
def test_each_process_gets_settings_it_accepts_in_production(name: str) -> None:
    env = process_env(name, "1")
    assert not unknown_variables(env) - COMPOSE, name
    settings = settings_from(env, LONG_RUNNING[name])
    assert settings.platform_env == "prod"


def test_four_spawner_replicas_on_one_host_get_distinct_ports() -> None:
    ports = set()
    for instance in "1234":
        settings = settings_from(process_env("spawner@.service", instance), "spawner")
        ports |= {settings.worker_http_port, settings.worker_prometheus_port}
    voxie = settings_from(process_env("voxie.service"), "voxie")
    assert len(ports) == 8 and voxie.worker_http_port not in ports


async def test_the_migrate_units_command_migrates_a_real_database(pg_server: str) -> None:
    unit = parse("voxie-migrate.service")
    assert one(unit, "Service", "Type") == "oneshot"
    assert one(unit, "Service", "RemainAfterExit") == "yes"
    assigned, program = command(unit)
    env = {"PATH": os.environ.get("PATH", ""), **process_env("voxie-migrate.service"), **assigned}
    await assert_migrates([sys.executable, *program[1:]], env, pg_server)
