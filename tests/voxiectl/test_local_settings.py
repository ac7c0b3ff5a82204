"""A `voxiectl` command beside `scripts/start` gets the settings the launcher gave its processes:
read from the files the launcher keeps, in dev/test only, where the environment is silent."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_settings
from tests.voxiectl.test_launcher import absent
from voxiectl.launcher import plan
from voxiectl.local_settings import LocalFiles, as_launched


def test_what_the_launcher_kept_is_what_a_command_gets(tmp_path: Path) -> None:
    data = tmp_path / ".data"
    settings = make_settings(local_db_dir=data / "postgres", local_livekit_port=7999)
    files = LocalFiles.of(settings)
    launched = plan(
        settings,
        token_path=files.operator_token,
        find_spec=absent,
        livekit_binary=tmp_path / "livekit-server",
    )
    got = as_launched(settings)
    assert got.livekit_url == launched.env["LIVEKIT_URL"] == "ws://127.0.0.1:7999"
    assert got.livekit_api_key == launched.env["LIVEKIT_API_KEY"]
    assert got.livekit_api_secret.get_secret_value() == launched.env["LIVEKIT_API_SECRET"]
    assert got.backend_admin_token is not None
    assert got.backend_admin_token.get_secret_value() == launched.env["BACKEND_ADMIN_TOKEN"]
    assert [k.get_secret_value() for k in got.secrets_keys] == [
        files.secrets_key.read_text().strip()
    ]


def test_the_environment_wins_and_nothing_is_made(tmp_path: Path) -> None:
    data = tmp_path / ".data"
    bare = make_settings(local_db_dir=data / "postgres")
    assert as_launched(bare) == bare
    assert not data.exists()  # reading never creates

    files = LocalFiles(data)
    files.livekit_dir.mkdir(parents=True)
    files.livekit_keys.write_text("APIkept: " + "s" * 40 + "\n")
    files.operator_token.write_text("kept-token\n")
    configured = make_settings(
        local_db_dir=data / "postgres",
        livekit_url="wss://lk.example.com",
        livekit_api_key="APIenv",
        livekit_api_secret="e" * 40,
        backend_admin_token="env-token",
    )
    assert as_launched(configured) == configured
    # Outside dev/test the files are never read.
    production = bare.model_copy(update={"platform_env": "prod"})
    assert as_launched(production) is production
