from __future__ import annotations

from pathlib import Path

import pytest

from shared.naming import WorkerRole
from shared.secret_box import new_key
from shared.settings import (
    OPENAI_DEFAULT_BASE_URL,
    ConfigError,
    ModelUse,
    Settings,
    StoreKind,
    is_loopback,
    is_placeholder_key,
)
from tests.conftest import make_settings

PROD_LIVEKIT = {"livekit_api_key": "APIabc123", "livekit_api_secret": "s3cr3t-long-random-value"}
PROD = {"platform_env": "prod", "database_url": "postgresql://db/v", **PROD_LIVEKIT}
REAL_LOOKING_KEY = "sk-proj-" + "Q7v" * 16


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
        openai_api_key=REAL_LOOKING_KEY,
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


USES: tuple[ModelUse, ...] = ("realtime", "llm", "stt", "tts", "summary")


def test_every_model_is_served_by_openai_unless_a_base_url_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = make_settings()
    assert {default.openai_base_url_for(use) for use in USES} == {OPENAI_DEFAULT_BASE_URL}

    gateway = make_settings(openai_base_url="https://gateway.example.com/v1")
    assert {gateway.openai_base_url_for(use) for use in USES} == {"https://gateway.example.com/v1"}

    # One use apart (a local LLM for the pipeline), read from the environment like the rest.
    monkeypatch.setenv("OPENAI_BASE_URL", "https://x.openai.azure.com/openai/v1")
    monkeypatch.setenv("OPENAI_LLM_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("OPENAI_TTS_BASE_URL", "  ")  # blank is unset
    split = Settings(_env_file=None)
    assert split.openai_base_url_for("llm") == "http://127.0.0.1:11434/v1"
    for use in USES[:1] + USES[2:]:
        assert split.openai_base_url_for(use) == "https://x.openai.azure.com/openai/v1"
    # A blank OPENAI_BASE_URL is OpenAI's, not "".
    assert make_settings(openai_base_url="").openai_base_url == OPENAI_DEFAULT_BASE_URL


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("openai_base_url", "api.openai.com/v1", "absolute http/https URL with a host"),
        ("openai_base_url", "https:///v1", "absolute http/https URL with a host"),
        ("openai_llm_base_url", "ftp://llm.internal/v1", "absolute http/https URL"),
        ("openai_stt_base_url", "ws://stt.internal/v1", "absolute http/https URL"),
        ("openai_tts_base_url", "https://tts.internal:99999/v1", "not a URL"),
        ("openai_summary_base_url", "https://gw.example.com/v1?key=1", "query or fragment"),
        ("openai_realtime_base_url", "wss://", "absolute http/https/ws/wss URL"),
        ("openai_base_url", "https://me:hunter2@gw.example.com/v1", "must not carry credentials"),
    ],
)
def test_a_malformed_base_url_is_refused_naming_its_variable(
    field: str, value: str, why: str
) -> None:
    with pytest.raises(ConfigError, match=f"{field.upper()}: .*{why}") as refused:
        make_settings(**{field: value})
    assert "hunter2" not in str(refused.value)


def test_the_realtime_url_may_be_a_websocket_url() -> None:
    settings = make_settings(openai_realtime_base_url="wss://rt.example.com/v1")
    assert settings.openai_base_url_for("realtime") == "wss://rt.example.com/v1"


@pytest.mark.parametrize(
    ("key", "placeholder"),
    [
        ("EMPTY", True),
        ("ollama", True),
        ("sk-xxxxxxxx", True),
        ("sk-...", True),
        ("<your-openai-key>", True),
        ("your_api_key", True),
        ("sk-placeholder-123", True),
        ("sk-no-key-required", True),
        (REAL_LOOKING_KEY, False),
        ("0123456789abcdef0123456789abcdef", False),  # an Azure OpenAI key
    ],
)
def test_placeholder_keys_are_recognised(key: str, placeholder: bool) -> None:
    assert is_placeholder_key(key) is placeholder


def test_a_placeholder_key_is_accepted_only_where_no_model_is_served_by_openai() -> None:
    # Every model on a local or compatible server: the key is never checked, a stand-in is fine.
    local = make_settings(**PROD, openai_api_key="EMPTY", openai_base_url="http://vllm:8000/v1")
    local.validate_for("spawner")
    local.validate_for("voxie")

    at_openai = make_settings(**PROD, openai_api_key="EMPTY")
    with pytest.raises(
        ConfigError, match=r"placeholder.*OPENAI_BASE_URL points at OpenAI .*spawner"
    ):
        at_openai.validate_for("spawner")

    # Only the pipeline LLM moved: the realtime model would still send the stand-in to OpenAI.
    llm_only = make_settings(
        **PROD, openai_api_key="sk-xxxx", openai_llm_base_url="http://ollama:11434/v1"
    )
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL points at OpenAI"):
        llm_only.validate_for("voxie")

    # Voxie builds only the realtime model; the spawner also the pipeline's and the summary's.
    realtime_moved = make_settings(
        **PROD,
        openai_api_key="EMPTY",
        openai_base_url="http://gateway:4000/v1",
        openai_realtime_base_url="wss://rt.internal/v1",
        openai_tts_base_url=OPENAI_DEFAULT_BASE_URL,
    )
    realtime_moved.validate_for("voxie")
    with pytest.raises(ConfigError, match="OPENAI_TTS_BASE_URL points at OpenAI") as refused:
        realtime_moved.validate_for("spawner")
    assert "EMPTY" not in str(refused.value)  # the key itself is never repeated

    # A real key goes anywhere; an empty one nowhere outside dev/test.
    make_settings(**PROD, openai_api_key=REAL_LOOKING_KEY).validate_for("spawner")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is empty"):
        make_settings(**PROD, openai_base_url="http://vllm:8000/v1").validate_for("voxie")
    # dev/test keep their leniency (tests run with stand-in keys against doubles).
    make_settings(openai_api_key="sk-test").validate_for("spawner")


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


def test_loopback_names_and_where_the_dev_sign_in_exists() -> None:
    for host in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost", "app.localhost"):
        assert is_loopback(host), host
    for other in ("0.0.0.0", "10.0.0.1", "example.com", "localhost.example.com", "", None):  # noqa: S104
        assert not is_loopback(other), other
    assert make_settings(platform_env="dev").dev_sign_in
    assert make_settings(platform_env="dev", backend_host="localhost").dev_sign_in
    assert not make_settings(platform_env="test").dev_sign_in
    assert not make_settings(platform_env="dev", backend_host="0.0.0.0").dev_sign_in  # noqa: S104


def test_tool_secrets_are_bound_to_hosts_and_the_old_form_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOOL_SECRETS", '{"CLINIC": "Bearer abc"}')
    with pytest.raises(ConfigError, match=r"TOOL_SECRETS\.CLINIC: .*sent only to the hosts"):
        Settings(_env_file=None)
    bound = '{"CLINIC": {"value": "Bearer abc", "hosts": ["API.clinic.example"]}}'
    monkeypatch.setenv("TOOL_SECRETS", bound)
    secret = Settings(_env_file=None).tool_secrets["CLINIC"]
    assert secret.hosts == ["api.clinic.example"] and "Bearer abc" not in repr(secret)


def test_secrets_keys_must_be_32_byte_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_KEYS", '["c2hvcnQ="]')
    with pytest.raises(ConfigError, match=r"SECRETS_KEYS.* must be 32 bytes"):
        Settings(_env_file=None)
    monkeypatch.setenv("SECRETS_KEYS", f'["{new_key()}"]')
    assert len(Settings(_env_file=None).secrets_keys) == 1


def test_api_key_hash_keys_must_be_32_byte_keys_and_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY_HASH_KEYS", '["c2hvcnQ="]')
    with pytest.raises(ConfigError, match=r"an entry of API_KEY_HASH_KEYS must be 32 bytes"):
        Settings(_env_file=None)
    monkeypatch.setenv("API_KEY_HASH_KEYS", f'["{new_key()}"]')
    assert len(Settings(_env_file=None).api_key_hash_keys) == 1


def test_an_api_key_hash_key_is_never_a_secrets_key() -> None:
    shared_key, other = new_key(), new_key()
    with pytest.raises(ConfigError, match="API_KEY_HASH_KEYS repeats a key of SECRETS_KEYS"):
        Settings(_env_file=None, secrets_keys=[other, shared_key], api_key_hash_keys=[shared_key])
    assert Settings(_env_file=None, secrets_keys=[shared_key], api_key_hash_keys=[other])
