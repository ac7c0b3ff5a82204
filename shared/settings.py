"""Typed settings for every process, read from the environment and `.env` once at start.

Built by the entry point (`Settings()`), passed down; nothing deeper reads `os.environ`.
Secrets are `SecretStr`: their repr is masked, so a logged settings object leaks nothing.
Every variable is listed, with a one-line comment, in `.env.example`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.catalog import SUPPORTED_MODELS, SUPPORTED_VOICES, check_supported
from shared.contracts.secrets import Hosts, SecretValue
from shared.naming import WorkerRole, has_slug_shape
from shared.pricing import ModelPrice
from shared.secret_box import parse_key
from shared.validation import describe_validation_error

# LiveKit's well-known credentials of `livekit-server --dev`: anyone can mint tokens with them.
LIVEKIT_DEV_API_KEY = "devkey"
LIVEKIT_DEV_API_SECRET = "secret"  # noqa: S105 - the public value we refuse, not a credential

Component = Literal["backend", "voxie", "spawner"]

# --- OpenAI-compatible endpoints ----------------------------------------------------------------
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
ModelUse = Literal["realtime", "llm", "stt", "tts", "summary"]
# The models each component builds: a placeholder key is judged against these endpoints only.
MODEL_USES: dict[Component, tuple[ModelUse, ...]] = {
    "backend": (),
    "voxie": ("realtime",),
    "spawner": ("realtime", "llm", "stt", "tts", "summary"),
}
# What operators write where a server needs no key (vLLM's "EMPTY", Ollama's "ollama") or where
# the real key was never filled in; OpenAI itself answers every one of them with 401 mid-call.
_PLACEHOLDER_KEYS = frozenset(
    {"empty", "none", "null", "dummy", "fake", "test", "unused", "ollama", "lm-studio", "no-key"}
    | {"not-needed", "sk-no-key-required", "sk-test", "sk-dummy", "sk-fake", "sk-none"}
)
_PLACEHOLDER_KEY = re.compile(
    r"^(sk-)?(x+|\*+|\.+|0+|1234\d*)$|^<.*>$|^(your|my)[-_ ].*key"
    r"|placeholder|change-?me|replace-?me",
    re.IGNORECASE,
)


def is_placeholder_key(key: str) -> bool:
    """A stand-in for a key (vLLM's `EMPTY`, `sk-xxxx`, `<your-key>`), not a credential."""
    value = key.strip()
    return value.lower() in _PLACEHOLDER_KEYS or bool(_PLACEHOLDER_KEY.search(value))


def is_openai_host(url: str) -> bool:
    """OpenAI's own API (including regional hosts such as eu.api.openai.com)."""
    host = urlsplit(url).hostname or ""
    return host == "api.openai.com" or host.endswith(".api.openai.com")


def _base_url_problem(url: str, *, websocket: bool) -> str | None:
    schemes = ("http", "https", "ws", "wss") if websocket else ("http", "https")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return "is not a URL"
    if parts.scheme not in schemes or not parts.hostname:
        example = OPENAI_DEFAULT_BASE_URL
        return f"must be an absolute {'/'.join(schemes)} URL with a host, like {example}"
    if parts.username or parts.password:
        # The URL is logged and shown in errors; the key belongs in OPENAI_API_KEY.
        return "must not carry credentials (put the key in OPENAI_API_KEY)"
    if parts.query or parts.fragment:
        return "must not have a query or fragment (the clients append their own paths)"
    return None


def is_loopback(host: str | None) -> bool:
    """`host` (an address or a name, IPv6 with or without brackets) is this machine only."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class ConfigError(ValueError):
    """A setting is missing or unsafe; the message names the variable(s) to fix."""


class OperatorSecret(BaseModel):
    """One of the operator's `TOOL_SECRETS`: a value, and the only hosts it is sent to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: SecretValue
    hosts: Hosts

    @model_validator(mode="before")
    @classmethod
    def _bound(cls, data: object) -> object:
        if isinstance(data, str):
            # The form before secrets were bound to hosts: refused rather than sent anywhere.
            raise ValueError(
                'a secret is {"value": "...", "hosts": ["api.example.com"]}: it is sent only '
                "to the hosts it names"
            )
        return data


class StoreKind(StrEnum):
    SUPABASE = "supabase"
    POSTGRES = "postgres"
    LOCAL = "local"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
        # A variable set but empty (`DATABASE_URL=` in a .env or a deployment template) counts
        # as unset: the default applies, never a database called "".
        env_ignore_empty=True,
    )

    # Deployment identity: also the suffix of the worker agent names, so two deployments
    # sharing one LiveKit project never register the same name.
    platform_env: str = "dev"

    # LiveKit
    livekit_url: str = "ws://127.0.0.1:7880"
    # What browsers connect to, when it differs from the URL the servers use (a public wss://
    # name in front of a private address); empty means LIVEKIT_URL.
    livekit_public_url: str | None = None
    livekit_api_key: str = ""
    livekit_api_secret: SecretStr = SecretStr("")
    # The local livekit-server `scripts/start` runs when LIVEKIT_URL is not set (UDP: port + 2).
    local_livekit_port: Annotated[int, Field(ge=1, le=65533)] = 7880
    voxie_agent_name: str | None = None
    spawner_agent_name: str | None = None
    # The agent `python -m spawner console` talks to (dev/test; no backend dispatches there).
    spawner_console_agent_id: UUID | None = None
    # Deadline of one call to LiveKit's server API (rooms, dispatches, data, attributes): a
    # server that accepts connections and never answers must not hang a request or a job.
    livekit_api_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    # Read only to refuse it: LiveKit applies it to every worker in the process environment,
    # which would register voxie and spawner under one name the backend never dispatches to.
    livekit_agent_name_override: str | None = None

    # OpenAI: the key, and where each model is served. OPENAI_BASE_URL points every model at an
    # OpenAI-compatible server (Azure OpenAI's /openai/v1, a gateway); the per-use URLs split
    # them (e.g. the pipeline LLM on vLLM or Ollama). The key is sent to every one of them.
    openai_api_key: SecretStr = SecretStr("")
    openai_base_url: str = OPENAI_DEFAULT_BASE_URL
    openai_realtime_base_url: str | None = None
    openai_llm_base_url: str | None = None
    openai_stt_base_url: str | None = None
    openai_tts_base_url: str | None = None
    openai_summary_base_url: str | None = None

    # Store: DATABASE_URL (Postgres, also a Supabase direct/pooler string) or SUPABASE_URL +
    # SUPABASE_SERVICE_ROLE_KEY (REST); neither → local embedded Postgres (dev/test only).
    store: Literal["auto", "supabase", "postgres"] = "auto"
    database_url: SecretStr | None = None
    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    supabase_jwt_secret: SecretStr | None = None
    # Supabase's anon (publishable) key: public by design, handed to the dashboard for sign-in.
    supabase_anon_key: str | None = None
    local_db_dir: Path = Path(".data/postgres")
    db_pool_max_size: Annotated[int, Field(ge=1, le=200)] = 10
    # One overall deadline per store call (acquiring a connection, the command, any retry);
    # while the store keeps failing a circuit breaker answers at once for a few seconds.
    store_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0

    # Lifecycle knobs (the seeds' defaults)
    grace_period_s: Annotated[float, Field(gt=0, le=3600)] = 60
    agent_startup_timeout_s: Annotated[float, Field(gt=0, le=600)] = 30
    max_total_agents: Annotated[int, Field(ge=1, le=100_000)] = 50
    gc_interval_s: Annotated[float, Field(gt=0, le=3600)] = 30

    # Event webhooks (backend.webhook_sender): one attempt's deadline, how often the sender
    # looks for due deliveries, and the first retry's delay (doubling from there, with jitter;
    # 0 retries at once, for tests).
    webhook_timeout_s: Annotated[float, Field(gt=0, le=60)] = 10
    webhook_interval_s: Annotated[float, Field(gt=0, le=300)] = 2
    webhook_retry_base_s: Annotated[float, Field(ge=0, le=3600)] = 10

    # Workers (voxie and spawner): capacity, prewarm, drain, health
    # Thread: ~5 MB per call against ~120 MB for a job process (bench.spawner_density).
    worker_executor: Literal["process", "thread"] = "thread"
    # Also the burst size: an idle worker counts each accepted, not yet started job as
    # threshold / idle of its load (livekit-agents), so it takes at most this many at once.
    worker_idle_processes: Annotated[int, Field(ge=0, le=64)] = 4
    # A realtime call costs the spawner about 0.085 cores and 7-17 MB (bench.calls_per_replica):
    # 16 calls fill a 2-vCPU replica's 0.7 load threshold.
    worker_max_sessions: Annotated[int, Field(ge=1, le=1000)] = 16
    worker_load_threshold: Annotated[float, Field(gt=0, le=1)] = 0.7
    # The load is threshold * sessions / WORKER_MAX_SESSIONS (shared.worker.session_load); on,
    # the spawner's load is also at least the CPU this replica itself uses (its process and its
    # job processes, over the CPUs it may run on: shared.worker.ReplicaCpu), never the
    # machine's: a neighbour's work must not make a replica refuse calls. Off by default: the
    # session cap is calibrated to the measured cost of a call and does not flicker with a
    # call's start-up work; turn it on for pipelines heavier than that calibration.
    worker_load_cpu: bool = False
    worker_drain_timeout_s: Annotated[int, Field(ge=0, le=86_400)] = 600
    # Each worker writes a heartbeat (shared.contracts.workers) this often, and at once when its
    # sessions change; it counts as alive for three intervals after its last one.
    worker_heartbeat_interval_s: Annotated[float, Field(ge=0.5, le=60)] = 2.0
    # Health server (`GET /`, `GET /worker`); 0 picks a free port (tests, several replicas).
    worker_http_port: Annotated[int, Field(ge=0, le=65535)] = 8081
    worker_prometheus_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    # Session records that could not be written (store down) wait here until it is back.
    spool_dir: Path = Path(".data/spool")
    max_call_duration_s: Annotated[float, Field(gt=0, le=86_400)] = 3600
    # Noise cancellation (BVC) only works on LiveKit Cloud; `auto` enables it there only.
    noise_cancellation: Literal["auto", "on", "off"] = "auto"
    # A cheap text model for the optional end-of-call summary.
    summary_model: str = "gpt-4o-mini"
    # Voxie's own realtime model and voice (one of SUPPORTED_MODELS / SUPPORTED_VOICES).
    voxie_model: str = "gpt-realtime"
    voxie_voice: str = "marin"
    # The operator's own HTTP tools: hosts or CIDRs exempt from the internal-address guard, and
    # secrets bound to hosts ({"CLINIC_API_TOKEN": {"value": "...", "hosts": ["api.x.com"]}}).
    # Users' tools get neither: their secrets are their own (POST /api/secrets) and their
    # exemptions the operator's per-owner egress (PUT /api/owners/{id}/egress).
    tool_http_allowlist: list[str] = Field(default_factory=list)
    tool_secrets: dict[str, OperatorSecret] = Field(default_factory=dict)
    # Keys that encrypt owners' secrets at rest (shared.secret_box): base64 32-byte keys, the
    # first seals, all open; `voxiectl secrets new-key` makes one. Unset: no secrets API.
    secrets_keys: list[SecretStr] = Field(default_factory=list)
    # Keys of the HMAC that API keys are stored under (backend.api_keys): base64 32-byte keys,
    # the first hashes new keys, every listed one verifies (rotation); same form as
    # SECRETS_KEYS, never the same key. Unset: no API keys (their routes answer 503).
    api_key_hash_keys: list[SecretStr] = Field(default_factory=list)

    # Backend
    backend_host: str = "127.0.0.1"
    backend_port: Annotated[int, Field(ge=1, le=65535)] = 8000
    backend_admin_token: SecretStr | None = None
    # Where operators' tools (voxiectl) reach the API; unset: BACKEND_HOST:BACKEND_PORT.
    backend_url: str | None = None
    # Dashboard origins allowed by CORS (exact origins, e.g. ["https://app.example.com"]).
    backend_cors_origins: list[str] = Field(default_factory=list)
    # What one API request may spend in all: every store and LiveKit call in it draws from this
    # (each gets the lesser of its own timeout and what is left), so a hung dependency costs a
    # request this long, however many calls it makes; then it answers 503 (shared.deadline).
    backend_request_budget_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    # Largest request body the API reads; bigger ones get 413 before any work is done.
    backend_max_body_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 262_144
    # Rooms (spawns and Voxie sessions) one caller may open per minute, per backend replica.
    spawn_rate_per_minute: Annotated[int, Field(ge=1, le=10_000)] = 10
    # Lifetime of the LiveKit join tokens the API mints: long enough to connect, no longer.
    livekit_token_ttl_s: Annotated[int, Field(ge=30, le=86_400)] = 600
    # Seconds a new room waits for its first human before LiveKit closes it.
    room_empty_timeout_s: Annotated[int, Field(ge=10, le=86_400)] = 120
    # Supabase Auth signing keys; default `{SUPABASE_URL}/auth/v1/.well-known/jwks.json`.
    supabase_jwks_url: str | None = None
    # Signs the one-click dev sign-in's short-lived tokens (PLATFORM_ENV=dev on loopback only;
    # scripts/start keeps one in .data/); unset, each backend process makes its own.
    dev_auth_secret: SecretStr | None = None
    # The built dashboard (Vite's output) the backend serves at `/`; default dashboard/dist
    # beside the backend package.
    dashboard_dist_dir: Path | None = None
    # Prices per model (USD per 1M tokens) for the cost in call analytics (shared.pricing);
    # empty: analytics show tokens without costs.
    model_prices: dict[str, ModelPrice] = Field(default_factory=dict)

    # Logging
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    def __init__(self, **values: Any) -> None:
        # One exception type, phrased in environment variable names, for every refusal.
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, env_names=True)) from None

    @field_validator("platform_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not has_slug_shape(value):
            raise ValueError("PLATFORM_ENV must be lowercase letters, digits and single hyphens")
        return value

    @field_validator("secrets_keys", "api_key_hash_keys")
    @classmethod
    def _keys(cls, keys: list[SecretStr], info: ValidationInfo) -> list[SecretStr]:
        variable = (info.field_name or "").upper()
        for key in keys:
            parse_key(key.get_secret_value(), variable)
        return keys

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("voxie_model", "voxie_voice")
    @classmethod
    def _supported_by_contract(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "voxie_model":
            return check_supported("model", value, SUPPORTED_MODELS)
        return check_supported("voice", value, SUPPORTED_VOICES)

    @field_validator(
        "openai_base_url",
        "openai_realtime_base_url",
        "openai_llm_base_url",
        "openai_stt_base_url",
        "openai_tts_base_url",
        "openai_summary_base_url",
    )
    @classmethod
    def _base_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value.strip() if value is not None else None
        if not value:
            # Blank is unset: the per-use URLs fall back to OPENAI_BASE_URL, that one to OpenAI.
            return OPENAI_DEFAULT_BASE_URL if info.field_name == "openai_base_url" else None
        # The realtime client turns http(s) into ws(s) itself, and also takes ws(s) as given.
        websocket = info.field_name == "openai_realtime_base_url"
        if problem := _base_url_problem(value, websocket=websocket):
            raise ValueError(problem)
        return value

    @field_validator(
        "tool_http_allowlist",
        "tool_secrets",
        "secrets_keys",
        "api_key_hash_keys",
        "backend_cors_origins",
        "model_prices",
        mode="before",
    )
    @classmethod
    def _json_text(cls, value: object) -> object:
        # The environment gives JSON (pydantic-settings decodes it); a .env or a caller may
        # hand the text itself.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON: {exc.msg}") from None
        return value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        problems: list[str] = []
        if self.livekit_agent_name_override:
            problems.append(
                "LIVEKIT_AGENT_NAME_OVERRIDE is set: it would rename every worker in this "
                "environment; set VOXIE_AGENT_NAME / SPAWNER_AGENT_NAME instead"
            )
        uses_rest = self.store_kind is StoreKind.SUPABASE
        if uses_rest and self.supabase_url and self.supabase_service_role_key is None:
            problems.append("SUPABASE_SERVICE_ROLE_KEY is empty but SUPABASE_URL is set")
        sealing = {parse_key(k.get_secret_value()) for k in self.secrets_keys}
        if any(parse_key(k.get_secret_value()) in sealing for k in self.api_key_hash_keys):
            # One key for two jobs: whoever learns it for one has it for the other too.
            problems.append(
                "API_KEY_HASH_KEYS repeats a key of SECRETS_KEYS: give each its own "
                "(`voxiectl secrets new-key` makes one)"
            )
        if self.store == "postgres" and self.database_url is None:
            problems.append("STORE=postgres but DATABASE_URL is empty")
        if self.store == "supabase" and not self.supabase_url:
            problems.append("STORE=supabase but SUPABASE_URL is empty")
        if not self.is_development:
            problems.extend(self._production_problems())
        if problems:
            raise ConfigError("; ".join(problems))
        return self

    def _production_problems(self) -> list[str]:
        problems: list[str] = []
        if not self.livekit_api_key:
            problems.append("LIVEKIT_API_KEY is empty")
        elif self.livekit_api_key == LIVEKIT_DEV_API_KEY:
            problems.append("LIVEKIT_API_KEY is LiveKit's public dev key 'devkey'")
        secret = self.livekit_api_secret.get_secret_value()
        if not secret:
            problems.append("LIVEKIT_API_SECRET is empty")
        elif secret == LIVEKIT_DEV_API_SECRET:
            problems.append("LIVEKIT_API_SECRET is LiveKit's public dev secret")
        if self.store_kind is StoreKind.LOCAL:
            problems.append(
                "neither DATABASE_URL nor SUPABASE_URL is set (the local embedded Postgres is "
                "only for dev/test)"
            )
        return [f"{p} (PLATFORM_ENV={self.platform_env})" for p in problems]

    def worker_agent_name(self, role: WorkerRole) -> str:
        """The explicit-dispatch agent name of a worker deployment: `{role}-{PLATFORM_ENV}`.

        The backend dispatches to this name and the worker registers under it; both call this
        so the two can never drift. `VOXIE_AGENT_NAME` / `SPAWNER_AGENT_NAME` override it.
        """
        override = self.voxie_agent_name if role is WorkerRole.VOXIE else self.spawner_agent_name
        return override or f"{role.value}-{self.platform_env}"

    @property
    def is_development(self) -> bool:
        return self.platform_env in ("dev", "test")

    @property
    def dev_sign_in(self) -> bool:
        """The dashboard's one-click dev sign-in exists: PLATFORM_ENV is dev and the backend
        listens on loopback only. The backend (which answers it) and the launcher (which keeps
        its secret) both ask here."""
        return self.platform_env == "dev" and is_loopback(self.backend_host)

    @property
    def browser_livekit_url(self) -> str:
        """The LiveKit URL handed to browsers with their join token."""
        return self.livekit_public_url or self.livekit_url

    @property
    def jwks_url(self) -> str | None:
        """Where Supabase Auth publishes its token signing keys, if user tokens are asymmetric."""
        if self.supabase_jwks_url:
            return self.supabase_jwks_url
        if self.supabase_url:
            return f"{self.supabase_url.rstrip('/')}/auth/v1/.well-known/jwks.json"
        return None

    def openai_base_url_for(self, use: ModelUse) -> str:
        """Where the `use` model is served: its own URL when set, else OPENAI_BASE_URL."""
        own: str | None = getattr(self, f"openai_{use}_base_url")
        return own or self.openai_base_url

    def _openai_key_problems(self, component: Component) -> list[str]:
        key = self.openai_api_key.get_secret_value()
        uses = MODEL_USES[component]
        if not uses:
            return []
        if not key:
            return ["OPENAI_API_KEY is empty (a server that needs none still takes a placeholder)"]
        if not is_placeholder_key(key):
            return []
        # A placeholder is fine for servers that ignore the key, never for OpenAI itself.
        at_openai = dict.fromkeys(
            f"OPENAI_{use.upper()}_BASE_URL"
            if getattr(self, f"openai_{use}_base_url")
            else "OPENAI_BASE_URL"
            for use in uses
            if is_openai_host(self.openai_base_url_for(use))
        )
        if not at_openai:
            return []
        return [
            "OPENAI_API_KEY is a placeholder, which only an OpenAI-compatible server accepts, "
            f"but {', '.join(at_openai)} points at OpenAI itself"
        ]

    @property
    def livekit_configured(self) -> bool:
        """Credentials for LiveKit's server API are set (the backend can create rooms)."""
        return bool(self.livekit_api_key and self.livekit_api_secret.get_secret_value())

    @property
    def store_kind(self) -> StoreKind:
        """Which store this process uses; DATABASE_URL wins when both are set in `auto`."""
        if self.store == "supabase":
            return StoreKind.SUPABASE
        if self.store == "postgres" or self.database_url is not None:
            return StoreKind.POSTGRES
        if self.supabase_url:
            return StoreKind.SUPABASE
        return StoreKind.LOCAL

    def validate_for(self, component: Component) -> None:
        """Refuses, before anything starts, what `component` cannot run without."""
        if self.is_development:
            return
        problems = self._openai_key_problems(component)
        if component == "backend" and not (
            self.backend_admin_token or self.supabase_jwt_secret or self.supabase_url
        ):
            problems.append(
                "no authentication configured: set BACKEND_ADMIN_TOKEN and/or Supabase Auth "
                "(SUPABASE_URL for JWKS, SUPABASE_JWT_SECRET for legacy HS256)"
            )
        if problems:
            raise ConfigError(
                "; ".join(f"{p} (PLATFORM_ENV={self.platform_env}, {component})" for p in problems)
            )
