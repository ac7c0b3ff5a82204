"""The start command's decisions (which processes, which skipped and why) and a real run of it
against the test database: it serves, and one Ctrl-C stops everything."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import httpx
import pytest

from backend.launcher import describe, has_entry_point, operator_token, plan
from shared.settings import ConfigError
from tests.conftest import make_settings
from tests.support.processes import ServiceProcess

LIVEKIT = {"livekit_api_key": "APIkey", "livekit_api_secret": "s" * 32}


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
    assert [s.args for s in chosen.services] == [("-m", "shared.db", "up"), ("-m", "backend")]
    assert {s.name: s.reason for s in chosen.skipped} == {
        "voxie": "the voxie package has no entry point here (voxie/__main__.py is missing)",
        "spawner": "the spawner package has no entry point here (spawner/__main__.py is missing)",
    }


def test_workers_need_livekit_and_openai(tmp_path: Path) -> None:
    no_livekit = plan(make_settings(), token_path=tmp_path / "t", find_spec=present)
    assert {s.reason for s in no_livekit.skipped} == {
        "LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not set"
    }
    no_openai = plan(make_settings(**LIVEKIT), token_path=tmp_path / "t", find_spec=present)
    assert {s.reason for s in no_openai.skipped} == {"OPENAI_API_KEY is not set"}
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


def test_this_branch_finds_no_worker_entry_points_but_its_own() -> None:
    assert has_entry_point("backend") and has_entry_point("shared.db")
    assert not has_entry_point("no_such_package_here")


def test_dev_without_auth_gets_a_generated_operator_token_kept_across_starts(
    tmp_path: Path,
) -> None:
    settings = make_settings(backend_port=8123)
    first = plan(settings, token_path=tmp_path / "operator-token", find_spec=absent)
    assert first.token_generated and first.operator_token
    assert first.env == {"BACKEND_ADMIN_TOKEN": first.operator_token}
    assert (tmp_path / "operator-token").stat().st_mode & 0o777 == 0o600
    again = plan(settings, token_path=tmp_path / "operator-token", find_spec=absent)
    assert again.operator_token == first.operator_token
    text = "\n".join(describe(settings, first))
    assert f"Bearer {first.operator_token}' http://127.0.0.1:8123/api/agents" in text
    assert "skipped: voxie" in text and "skipped: spawner" in text


def test_configured_auth_is_used_and_no_token_is_made(tmp_path: Path) -> None:
    chosen = plan(
        make_settings(supabase_jwt_secret="x" * 40), token_path=tmp_path / "t", find_spec=absent
    )
    assert not chosen.token_generated and chosen.operator_token is None and chosen.env == {}
    assert not (tmp_path / "t").exists()


def test_outside_dev_it_refuses_to_start_without_auth(tmp_path: Path) -> None:
    prod = make_settings(platform_env="prod", database_url="postgresql://db/x", **LIVEKIT)
    with pytest.raises(ConfigError, match="no authentication configured"):
        plan(prod, token_path=tmp_path / "t", find_spec=absent)
    assert operator_token(tmp_path / "kept") == operator_token(tmp_path / "kept")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(90)
async def test_the_start_command_serves_and_one_ctrl_c_stops_everything(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    launcher = ServiceProcess(
        ["-m", "backend.launcher"],
        tmp_path,
        label="start",
        env={
            "DATABASE_URL": database_url,
            "BACKEND_PORT": str(port),
            "LOCAL_DB_DIR": str(tmp_path / "db"),
            "LOG_FORMAT": "console",
        },
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(300):
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
            agents = await client.get("/api/agents", headers={"Authorization": f"Bearer {token}"})
            assert agents.status_code == 200, launcher.output()
        launcher.signal(signal.SIGINT)
        assert launcher.stop(timeout=40) == 0, launcher.output()
    finally:
        launcher.kill()
    output = launcher.output()
    # No LiveKit here: whether or not the worker packages exist yet, both are skipped, saying why.
    assert "skipped: voxie — " in output and "skipped: spawner — " in output
    assert "[backend]" in output and "stopping" in output
    with pytest.raises(httpx.TransportError):
        async with httpx.AsyncClient() as after:
            await after.get(f"http://127.0.0.1:{port}/healthz")
