from __future__ import annotations

from pathlib import Path

import pytest

from shared.naming import WorkerRole
from shared.settings import ConfigError, Settings, StoreKind
from tests.conftest import make_settings

PROD_LIVEKIT = {"livekit_api_key": "APIabc123", "livekit_api_secret": "s3cr3t-long-random-value"}


def test_defaults_are_the_seeds() -> None:
    s = make_settings()
    assert (s.platform_env, s.grace_period_s, s.agent_startup_timeout_s) == ("dev", 60, 30)
    assert (s.max_total_agents, s.gc_interval_s) == (50, 30)
    assert (s.backend_host, s.backend_port) == ("127.0.0.1", 8000)
    assert s.store_kind is StoreKind.LOCAL


def test_reads_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PLATFORM_ENV=staging\nGRACE_PERIOD_S=90\nLIVEKIT_API_KEY=APIfromfile\n")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "from-environment-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/voxie")
    s = Settings(_env_file=env_file)
    assert (s.platform_env, s.grace_period_s, s.livekit_api_key) == ("staging", 90, "APIfromfile")
    assert s.livekit_api_secret.get_secret_value() == "from-environment-secret"
    assert s.store_kind is StoreKind.POSTGRES


def test_secrets_never_show_in_repr_or_dump() -> None:
    s = make_settings(
        livekit_api_secret="lk-very-secret",
        openai_api_key="sk-very-secret",
        database_url="postgresql://voxie:db-very-secret@db/voxie",
        backend_admin_token="admin-very-secret",
    )
    for text in (repr(s), str(s), s.model_dump_json()):
        assert "very-secret" not in text


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"livekit_api_key": "devkey", "livekit_api_secret": "real-secret"}, "LIVEKIT_API_KEY"),
        ({"livekit_api_key": "APIreal", "livekit_api_secret": "secret"}, "LIVEKIT_API_SECRET"),
        ({"livekit_api_key": "", "livekit_api_secret": "real-secret"}, "LIVEKIT_API_KEY is empty"),
        ({"livekit_api_key": "APIreal", "livekit_api_secret": ""}, "LIVEKIT_API_SECRET is empty"),
    ],
)
def test_production_refuses_dev_credentials_and_empty_secrets(
    values: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        make_settings(platform_env="prod", database_url="postgresql://db/voxie", **values)


def test_dev_credentials_are_fine_in_dev_and_test() -> None:
    for env in ("dev", "test"):
        make_settings(platform_env=env, livekit_api_key="devkey", livekit_api_secret="secret")


def test_production_refuses_the_local_database() -> None:
    with pytest.raises(ConfigError, match="neither DATABASE_URL nor SUPABASE_URL"):
        make_settings(platform_env="prod", **PROD_LIVEKIT)


def test_store_selection() -> None:
    supa = {"supabase_url": "https://x.supabase.co", "supabase_service_role_key": "key"}
    assert make_settings(**supa).store_kind is StoreKind.SUPABASE
    both = make_settings(**supa, database_url="postgresql://db/voxie")
    assert both.store_kind is StoreKind.POSTGRES  # DATABASE_URL wins in auto
    assert make_settings(**supa, database_url="postgresql://db/v", store="supabase").store_kind is (
        StoreKind.SUPABASE
    )
    with pytest.raises(ConfigError, match="SUPABASE_SERVICE_ROLE_KEY"):
        make_settings(supabase_url="https://x.supabase.co")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        make_settings(store="postgres")


def test_validate_for_names_what_each_component_needs() -> None:
    prod = make_settings(platform_env="prod", database_url="postgresql://db/v", **PROD_LIVEKIT)
    with pytest.raises(ConfigError, match=r"OPENAI_API_KEY is empty .*spawner"):
        prod.validate_for("spawner")
    with pytest.raises(ConfigError, match="BACKEND_ADMIN_TOKEN"):
        prod.validate_for("backend")
    ready = make_settings(
        platform_env="prod",
        database_url="postgresql://db/v",
        openai_api_key="sk-x",
        backend_admin_token="t" * 32,
        **PROD_LIVEKIT,
    )
    for component in ("backend", "voxie", "spawner"):
        ready.validate_for(component)


def test_livekit_agent_name_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="SPAWNER_AGENT_NAME"):
        make_settings(livekit_agent_name_override="whatever")


@pytest.mark.parametrize("env", ["Prod", "prod_eu", "", "-x", "a--b", "prod\n"])
def test_platform_env_must_be_name_safe(env: str) -> None:
    with pytest.raises(ConfigError, match="PLATFORM_ENV"):
        make_settings(platform_env=env)


def test_knobs_are_bounded() -> None:
    with pytest.raises(ConfigError, match="GRACE_PERIOD_S: Input should be greater than 0"):
        make_settings(grace_period_s=0)
    with pytest.raises(ConfigError, match="BACKEND_PORT"):
        make_settings(backend_port=70000)
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        make_settings(log_format="xml")


def test_backend_settings_derive_urls_and_parse_origins() -> None:
    plain = make_settings(livekit_url="ws://livekit.internal:7880")
    assert plain.browser_livekit_url == "ws://livekit.internal:7880"
    assert plain.jwks_url is None and not plain.livekit_configured
    public = make_settings(
        livekit_url="ws://livekit.internal:7880",
        livekit_public_url="wss://rtc.example.com",
        supabase_url="https://abc.supabase.co/",
        supabase_service_role_key="k",
        livekit_api_key="APIk",
        livekit_api_secret="s" * 32,
        backend_cors_origins='["https://app.example.com"]',
    )
    assert public.browser_livekit_url == "wss://rtc.example.com"
    assert public.jwks_url == "https://abc.supabase.co/auth/v1/.well-known/jwks.json"
    assert public.livekit_configured
    assert public.backend_cors_origins == ["https://app.example.com"]
    override = make_settings(supabase_jwks_url="https://keys.example/jwks.json")
    assert override.jwks_url == "https://keys.example/jwks.json"
    with pytest.raises(ConfigError, match="BACKEND_MAX_BODY_BYTES"):
        make_settings(backend_max_body_bytes=10)


def test_worker_agent_names_follow_platform_env() -> None:
    settings = make_settings(
        platform_env="staging",
        livekit_api_key="APIstaging",
        livekit_api_secret="staging-secret-value",
        database_url="postgresql://db/voxie",
    )
    assert settings.worker_agent_name(WorkerRole.VOXIE) == "voxie-staging"
    assert settings.worker_agent_name(WorkerRole.SPAWNER) == "spawner-staging"


def test_worker_agent_name_overrides() -> None:
    settings = make_settings(spawner_agent_name="spawner-eu-docker", voxie_agent_name="")
    assert settings.worker_agent_name(WorkerRole.SPAWNER) == "spawner-eu-docker"
    assert settings.worker_agent_name(WorkerRole.VOXIE) == "voxie-dev"


def test_a_blank_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not a database called "", not a Supabase project at "", not a CORS list that fails to parse.
    for name in (
        "DATABASE_URL",
        "SUPABASE_URL",
        "SUPABASE_SERVICE_ROLE_KEY",
        "BACKEND_ADMIN_TOKEN",
        "BACKEND_CORS_ORIGINS",
        "TOOL_SECRETS",
        "VOXIE_AGENT_NAME",
        "LIVEKIT_AGENT_NAME_OVERRIDE",
    ):
        monkeypatch.setenv(name, "")
    settings = Settings(_env_file=None)
    assert settings.store_kind is StoreKind.LOCAL
    assert (settings.supabase_url, settings.backend_admin_token) == (None, None)
    assert (settings.backend_cors_origins, settings.tool_secrets) == ([], {})
    assert settings.worker_agent_name(WorkerRole.VOXIE) == "voxie-dev"
