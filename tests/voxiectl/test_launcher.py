"""The start command's decisions (which processes, which skipped and why) and a real run of it
against the test database: it serves, and one Ctrl-C stops everything."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

import httpx
import pytest

from shared.contracts.room_messages import SPAWNER_ERROR
from shared.settings import ConfigError
from shared.store.postgres import PostgresStore
from tests.conftest import make_settings
from tests.spawner.conftest import new_agent
from tests.support.human import Human
from tests.support.livekit_server import binary as livekit_server_binary
from tests.support.processes import ServiceProcess
from tests.voxiectl.conftest import voxiectl
from voxiectl.launcher import NO_LIVEKIT_SERVER, describe, has_entry_point, operator_token, plan
from voxiectl.livekit_local import free_port

READY = "[start] ready: the backend answers and voxie and spawner registered\n"
LIVEKIT = {
    "livekit_url": "ws://lk.example:7880",
    "livekit_api_key": "APIkey",
    "livekit_api_secret": "s" * 32,
}


def present(_: str) -> object:
    return object()


def absent(name: str) -> object | None:
    raise ModuleNotFoundError(name)


def test_workers_without_an_entry_point_are_skipped_and_say_why(tmp_path: Path) -> None:
    chosen = plan(
        make_settings(**LIVEKIT, openai_api_key="sk-x"),
        token_path=tmp_path / "token",
        find_spec=absent,
    )
    assert [s.args for s in chosen.services] == [
        ("-m", "voxiectl.local_db", "up"),
        ("-m", "backend"),
    ]
    assert {s.name: s.reason for s in chosen.skipped} == {
        "voxie": "the voxie package has no entry point here (voxie/__main__.py is missing)",
        "spawner": "the spawner package has no entry point here (spawner/__main__.py is missing)",
    }


def test_workers_need_livekit_but_in_dev_no_openai_key(tmp_path: Path) -> None:
    no_livekit = plan(
        make_settings(livekit_url="ws://lk.example:7880"),
        token_path=tmp_path / "t",
        find_spec=present,
    )
    assert {s.reason for s in no_livekit.skipped} == {
        "no LiveKit server: LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not set"
    }
    no_openai = plan(make_settings(**LIVEKIT), token_path=tmp_path / "t", find_spec=present)
    assert no_openai.skipped == []
    assert any("OPENAI_API_KEY is not set" in note for note in no_openai.notes)
    prod = make_settings(
        **LIVEKIT,
        platform_env="prod",
        database_url="postgresql://db/x",
        backend_admin_token="t" * 40,
    )
    prod_plan = plan(prod, token_path=tmp_path / "t", find_spec=present)
    assert {s.name for s in prod_plan.skipped} == {"voxie", "spawner"}
    assert all(s.reason.startswith("OPENAI_API_KEY is empty") for s in prod_plan.skipped)
    everything = plan(
        make_settings(**LIVEKIT, openai_api_key="sk-x"),
        token_path=tmp_path / "t",
        find_spec=present,
    )
    assert everything.skipped == []
    assert [s.args for s in everything.services][2:] == [
        ("-m", "voxie", "start"),
        ("-m", "spawner", "start"),
    ]
    # One machine, two workers: each its own health port.
    assert [s.env for s in everything.services][2:] == [
        {"WORKER_HTTP_PORT": "8081"},
        {"WORKER_HTTP_PORT": "8082"},
    ]


def test_this_branch_finds_no_worker_entry_points_but_its_own() -> None:
    assert has_entry_point("backend") and has_entry_point("shared.db")
    assert not has_entry_point("no_such_package_here")


def test_dev_without_auth_gets_a_generated_operator_token_kept_across_starts(
    tmp_path: Path,
) -> None:
    settings = make_settings(backend_port=8123)
    first = plan(settings, token_path=tmp_path / "operator-token", find_spec=absent)
    assert first.token_generated and first.operator_token
    # The dashboard's dev sign-in gets a secret of its own, kept the same way.
    dev_secret = (tmp_path / "dev-auth-secret").read_text().strip()
    # So does the key that seals owners' secrets: stored secrets open after a restart.
    key = (tmp_path / "secrets-key").read_text().strip()
    # And the key API keys are hashed under: owners' keys still work after a restart.
    hash_key = (tmp_path / "api-key-hash-key").read_text().strip()
    assert hash_key != key
    assert first.env == {
        "LOG_FORMAT": "json",
        "BACKEND_ADMIN_TOKEN": first.operator_token,
        "DEV_AUTH_SECRET": dev_secret,
        "SECRETS_KEYS": f'["{key}"]',
        "API_KEY_HASH_KEYS": f'["{hash_key}"]',
    }
    assert make_settings(secrets_keys=json.loads(first.env["SECRETS_KEYS"])).secrets_keys
    hashing = make_settings(api_key_hash_keys=json.loads(first.env["API_KEY_HASH_KEYS"]))
    assert hashing.api_key_hash_keys
    for kept in ("operator-token", "dev-auth-secret", "secrets-key", "api-key-hash-key"):
        assert (tmp_path / kept).stat().st_mode & 0o777 == 0o600
    again = plan(settings, token_path=tmp_path / "operator-token", find_spec=absent)
    assert again.operator_token == first.operator_token and again.env == first.env
    text = "\n".join(describe(settings, first))
    assert "made an operator token kept in" in text
    assert "reused the operator token kept in" in "\n".join(describe(settings, again))
    assert "dashboard: http://127.0.0.1:8123/ (one-click dev sign-in)" in text
    assert f"Bearer {first.operator_token}' http://127.0.0.1:8123/openapi.json" in text
    assert dev_secret not in text and key not in text
    assert f"Bearer {first.operator_token}' http://127.0.0.1:8123/api/agents" in text
    assert "skipped: voxie" in text and "skipped: spawner" in text


def test_configured_auth_is_used_and_no_token_is_made(tmp_path: Path) -> None:
    chosen = plan(
        make_settings(supabase_jwt_secret="x" * 40), token_path=tmp_path / "t", find_spec=absent
    )
    assert not chosen.token_generated and chosen.operator_token is None
    assert "BACKEND_ADMIN_TOKEN" not in chosen.env
    assert not (tmp_path / "t").exists()


def test_outside_dev_it_refuses_to_start_without_auth(tmp_path: Path) -> None:
    prod = make_settings(platform_env="prod", database_url="postgresql://db/x", **LIVEKIT)
    with pytest.raises(ConfigError, match="no authentication configured"):
        plan(prod, token_path=tmp_path / "t", find_spec=absent)
    assert operator_token(tmp_path / "kept") == operator_token(tmp_path / "kept")


@pytest.mark.timeout(240)
async def test_the_start_command_runs_the_platform_on_a_local_livekit_and_ctrl_c_stops_it(
    database_url: str, store: PostgresStore, tmp_path: Path
) -> None:
    """`scripts/start` in a terminal with no LIVEKIT_URL and no OPENAI_API_KEY: a local
    livekit-server, the backend and both workers; a spawned call and a Voxie session each tell
    the human in the room that no model is configured; one Ctrl-C stops everything. What the
    person reads: one readable line per event, each once, none of livekit-server's info."""
    port, livekit_port = free_port(), free_port()
    launcher = ServiceProcess(
        ["-m", "voxiectl", "start"],
        tmp_path,
        label="start",
        env={
            "DATABASE_URL": database_url,
            "BACKEND_PORT": str(port),
            "LOCAL_DB_DIR": str(tmp_path / "db"),
            "LOCAL_LIVEKIT_PORT": str(livekit_port),
            "LIVEKIT_SERVER_BIN": str(livekit_server_binary()),
            "SPOOL_DIR": str(tmp_path / "spool"),
            "WORKER_HTTP_PORT": "0",
        },
        terminal=True,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(600):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if launcher.returncode is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail(launcher.output())
            token = (tmp_path / "operator-token").read_text().strip()
            # It says "ready" once, and only after both workers registered: a call made then
            # finds its worker (no 503 for a worker still starting).
            for _ in range(900):
                if READY in launcher.output() or launcher.returncode:
                    break
                await asyncio.sleep(0.1)
            output = launcher.output()
            assert output.count(READY) == 1, output
            registrations = [m.end() for m in re.finditer("registered worker", output)]
            # (Either worker may register again after a dropped connection: a third line.)
            assert len(registrations) >= 2 and output.index(READY) > registrations[1], output
            agent = await store.create_agent(new_agent())
            auth = {"Authorization": f"Bearer {token}"}

            # A spawned call, and Voxie too, say why instead of never joining (the browser
            # waits for them).
            async def told(grant: dict[str, str]) -> list[tuple[str, bytes]]:
                human = await Human.join(grant["livekit_url"], grant["token"])
                try:
                    await human.until(lambda: human.data, what="the refusal", within=60)
                finally:
                    await human.leave()
                return human.data

            for opening, body in (
                (f"/api/agents/{agent.id}/spawn", None),
                ("/api/voxie/sessions", {"owner_id": str(agent.owner_id)}),
            ):
                opened = await client.post(opening, json=body, headers=auth)
                assert opened.status_code == 201, opened.text
                body = opened.json()
                assert body["livekit_url"] == f"ws://127.0.0.1:{livekit_port}"
                [(topic, payload)] = await told(body)
                assert topic == SPAWNER_ERROR
                told_room = json.loads(payload)
                assert told_room["code"] == "no_model_configured"
                assert "OPENAI_API_KEY=" in told_room["message"]  # how to fix it

            # The links it printed work as printed (every /api path needs the token).
            for line in launcher.output().splitlines():
                if link := re.search(r"curl -H 'Authorization: Bearer (\S+)' (\S+)$", line):
                    printed = {"Authorization": f"Bearer {link[1]}"}
                    assert (await client.get(link[2], headers=printed)).status_code == 200, line

            # Beside it, in another terminal with none of its variables, every voxiectl command
            # finds the platform the way the launcher kept it, and none ends in a traceback.
            beside = {
                "DATABASE_URL": database_url,
                "BACKEND_PORT": str(port),
                "LOCAL_DB_DIR": str(tmp_path / "db"),
                "LOCAL_LIVEKIT_PORT": str(livekit_port),
            }
            for command in (["agents", "list"], ["rooms", "list"], ["gc"], ["secrets", "new-key"]):
                ran = await voxiectl("--json", *command, env=beside, cwd=tmp_path)
                assert ran.code == 0 and "Traceback" not in ran.stderr, (command, ran.stderr)
            doctor = await voxiectl(
                "--json", "doctor", "--probe-timeout", "15", env=beside, cwd=tmp_path
            )
            assert "Traceback" not in doctor.stderr, doctor.stderr
            checks = {c["name"]: c["status"] for c in doctor.json()["checks"]}
            assert checks["livekit"] == checks["webhook"] == "pass", doctor.stdout
        launcher.signal(signal.SIGINT)
        assert launcher.stop(timeout=60) == 0, launcher.output()
    finally:
        # Its children run in their own sessions: only the launcher's own stop reaches them.
        launcher.signal(signal.SIGINT)
        launcher.stop(timeout=60)
    output = launcher.output()
    assert "livekit ready in" in output, output
    assert_read_by_a_person(output)
    assert f"LiveKit: ws://127.0.0.1:{livekit_port}" in output
    assert "note: OPENAI_API_KEY is not set" in output
    assert "[backend]" in output and "[spawner]" in output and "stopping" in output
    for stopped in (port, livekit_port):
        with pytest.raises(httpx.TransportError):
            async with httpx.AsyncClient() as after:
                await after.get(f"http://127.0.0.1:{stopped}/")


def test_without_livekit_url_a_local_server_starts_first_with_keys_kept(tmp_path: Path) -> None:
    binary = tmp_path / "livekit-server"
    settings = make_settings(backend_port=8123, local_livekit_port=17880)
    first = plan(settings, token_path=tmp_path / "operator-token", livekit_binary=binary)
    livekit = first.services[1]
    config_path = tmp_path / "livekit" / "livekit.json"
    assert livekit.args == ("-m", "voxiectl.livekit_local", str(binary), str(config_path))
    assert [s.name for s in first.services][2] == "backend"
    key, secret = first.env["LIVEKIT_API_KEY"], first.env["LIVEKIT_API_SECRET"]
    assert first.env["LIVEKIT_URL"] == first.livekit_url == "ws://127.0.0.1:17880"
    assert key != "devkey" and len(secret) >= 32
    config = json.loads(config_path.read_text())
    assert config["bind_addresses"] == ["127.0.0.1"] and config["port"] == 17880
    assert config["rtc"]["node_ip"] == "127.0.0.1" and config["rtc"]["use_external_ip"] is False
    assert config["keys"] == {key: secret}
    assert config["webhook"]["urls"] == ["http://127.0.0.1:8123/api/livekit/webhook"]
    assert config_path.stat().st_mode & 0o777 == 0o600
    again = plan(settings, token_path=tmp_path / "operator-token", livekit_binary=binary)
    assert again.env["LIVEKIT_API_SECRET"] == secret  # kept in .data/livekit/keys
    assert "LiveKit: ws://127.0.0.1:17880" in describe(settings, first)


def test_on_a_terminal_its_processes_log_readable_lines_and_livekit_only_warnings(
    tmp_path: Path,
) -> None:
    """The children's stdout is a pipe to the launcher: it tells them where their lines end up."""

    def started(terminal: bool, **values: object) -> tuple[str, dict[str, object]]:
        settings = make_settings(local_livekit_port=17880, **values)
        chosen = plan(
            settings,
            token_path=tmp_path / "operator-token",
            livekit_binary=tmp_path / "livekit-server",
            terminal=terminal,
        )
        config = json.loads((tmp_path / "livekit" / "livekit.json").read_text())
        return chosen.env["LOG_FORMAT"], config["logging"]

    assert started(terminal=True) == ("console", {"level": "warn", "json": False})
    assert started(terminal=False) == ("json", {"level": "info", "json": True})
    # A format or level the person asked for is theirs.
    assert started(terminal=True, log_format="json") == ("json", {"level": "info", "json": True})
    assert started(terminal=False, log_format="console")[0] == "console"
    assert started(terminal=True, log_level="debug") == (
        "console",
        {"level": "debug", "json": False},
    )
    assert started(terminal=True, log_level="warning")[1] == {"level": "warn", "json": False}


def test_without_livekit_url_or_a_server_it_says_what_to_install(tmp_path: Path) -> None:
    chosen = plan(make_settings(), token_path=tmp_path / "t", find_spec=present)
    assert [s.name for s in chosen.services] == ["database: local embedded Postgres", "backend"]
    reasons = {s.name: s.reason for s in chosen.skipped}
    assert reasons["livekit"] == NO_LIVEKIT_SERVER and "https://go.dev/dl/" in NO_LIVEKIT_SERVER
    assert reasons["spawner"].startswith("no LiveKit server")


def assert_read_by_a_person(output: str) -> None:
    """The launcher's output on a terminal: every process's lines readable (not JSON), each
    worker's start-up told once (the LiveKit CLI's own handler printed a second copy of each
    line in its own shape), and no livekit-server info line (API calls, dispatch attempts)."""
    lines = output.splitlines()
    for label in ("database", "backend", "voxie", "spawner"):
        own = [line for line in lines if line.startswith(f"[{label}] ")]
        assert own and not [line for line in own if line.startswith(f"[{label}] {{")], own
    for label, started in (("voxie", "voxie_registered"), ("spawner", "spawner_started")):
        for event in ("starting worker", "registered worker", started):
            told = [line for line in lines if line.startswith(f"[{label}] ") and event in line]
            assert len(told) == 1, (event, told)
    assert not [line for line in lines if line.startswith("[livekit] ") and "INFO" in line]
