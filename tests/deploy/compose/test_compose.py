"""deploy/compose.yaml: valid against the Compose Specification's JSON schema (vendored, see
README.md here), and the platform's own rules: the environment each container gets is one its
process accepts in production, one PLATFORM_ENV per stack, the stop grace period covers the
drain, the webhook reaches the backend, spawners scale, and no secret is written in the file.

Compose's variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR:?error}`, nesting) is
applied here as Compose applies it, with the `.env` an operator makes from `.env.example`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from backend.routes.webhook import operations as webhook_operations
from shared.naming import WorkerRole
from shared.settings import Component, ConfigError, StoreKind
from tests.deploy.environment import SECRET_VALUES, dotenv, settings_from, unknown_variables
from tests.support.processes import REPO_ROOT
from tests.test_env_example import COMPOSE

COMPOSE_FILE = REPO_ROOT / "deploy/compose.yaml"
LIVEKIT_CONFIG = REPO_ROOT / "deploy/livekit.yaml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
PLATFORM_SERVICES: dict[str, Component | None] = {
    "migrate": None,
    "backend": "backend",
    "voxie": "voxie",
    "spawner": "spawner",
}
WORKERS = ("voxie", "spawner")


class MissingVariable(LookupError):
    """A `${VAR:?message}` Compose would refuse to start with."""


_REFERENCE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<rest>.*))?\}$", re.S)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation of one string (`$$` is a literal `$`)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 0, i
            while j < len(text):  # the matching brace, past nested ${...}
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                if depth == 0 and text[j] == "}":
                    break
                j += 1
            match = _REFERENCE.match(text[i : j + 1])
            assert match, f"unparsable reference {text[i : j + 1]!r}"
            out.append(_resolve(match["name"], match["op"], match["rest"] or "", env))
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _resolve(name: str, op: str | None, rest: str, env: Mapping[str, str]) -> str:
    value = env.get(name)
    unset = value is None or (op is not None and op.startswith(":") and value == "")
    if op in (":-", "-") and unset:
        return interpolate(rest, env)
    if op in (":?", "?") and unset:
        raise MissingVariable(f"{name}: {rest}")
    return value or ""


def interpolated(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolated(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    return node


RAW = yaml.safe_load(COMPOSE_FILE.read_text())


def operator_env(**changes: str) -> dict[str, str]:
    """deploy/.env as an operator makes it: .env.example with the secrets filled in."""
    filled = SECRET_VALUES | {"POSTGRES_PASSWORD": "pg-deploy-test"}
    filled.pop("DATABASE_URL")  # the bundled Postgres unless a test names another
    return dotenv(filled | changes)


def stack(**changes: str) -> dict[str, Any]:
    return interpolated(RAW, operator_env(**changes))  # type: ignore[no-any-return]


def image_env() -> dict[str, str]:
    """The runtime stage's ENV of the Dockerfile (the lowest layer of a container's env)."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    runtime = text[text.index("AS runtime") :]
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV (.+?)(?<!\\)$", runtime, re.M | re.S):
        for name, value in re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")):
            env[name] = value
    return env


def container_env(service: str, **changes: str) -> dict[str, str]:
    """What the process in `service` reads: image ENV < env_file (.env) < environment."""
    spec = stack(**changes)["services"][service]
    assert [entry["path"] for entry in spec["env_file"]] == [".env"]
    environment = {name: str(value) for name, value in spec["environment"].items()}
    return image_env() | operator_env(**changes) | environment


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


# --- the specification --------------------------------------------------------------------------


def test_the_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(RAW)]
    assert not errors, errors
    # And after interpolation, with the values Compose would run it with.
    assert not list(validator.iter_errors(stack()))


def test_the_schema_check_can_fail() -> None:
    broken = stack()
    broken["services"]["spawner"]["replicas"] = 3  # belongs under deploy:
    broken["services"]["backend"]["restart"] = ["always"]
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert len(list(validator.iter_errors(broken))) == 2


def test_every_variable_the_file_uses_is_in_env_example_and_the_compose_ones_are_used() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    listed = set(dotenv()) | {
        m[1]
        for m in re.finditer(
            r"^#\s*([A-Z][A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(), re.M
        )
    }
    assert used <= listed, used - listed
    assert COMPOSE - {"COMPOSE_PROFILES"} <= used  # COMPOSE_PROFILES is read by Compose itself


# --- the platform's rules -----------------------------------------------------------------------


def test_the_services_and_their_order() -> None:
    services = stack()["services"]
    assert set(services) == {"postgres", "livekit", *PLATFORM_SERVICES}
    assert services["livekit"]["image"] == "livekit/livekit-server:v1.13.5"
    # Migrate runs once, after the database, and everything else waits for it to succeed.
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("backend", *WORKERS):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["livekit"]["condition"] == "service_healthy", name
        assert services[name]["restart"] in ("always", "unless-stopped"), name
        assert services[name]["command"] == [name], name
    assert services["spawner"]["deploy"]["replicas"] == 3
    assert "replicas" not in services["voxie"].get("deploy", {})


def test_every_long_running_service_has_a_health_check() -> None:
    services = stack()["services"]
    for name, service in services.items():
        if name == "migrate":
            assert service["healthcheck"] == {"disable": True}
            continue
        assert service["healthcheck"]["test"][0] == "CMD", name
    assert services["backend"]["healthcheck"]["test"][-1] == "backend"
    for worker in WORKERS:
        assert services[worker]["healthcheck"]["test"][-1] == "worker"


@pytest.mark.parametrize("service", list(PLATFORM_SERVICES))
def test_each_container_gets_settings_its_process_accepts_in_production(service: str) -> None:
    env = container_env(service, PLATFORM_ENV="staging")
    assert not unknown_variables(env) - COMPOSE
    component = PLATFORM_SERVICES[service]
    settings = settings_from(env, component or "backend")
    assert settings.platform_env == "staging"
    assert settings.livekit_url == "ws://livekit:7880"
    # The bundled Postgres, reached by its service name, with the password from .env.
    assert settings.store_kind is StoreKind.POSTGRES
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == (
        "postgresql://voxie:pg-deploy-test@postgres:5432/voxie"
    )


def test_an_external_database_replaces_the_bundled_one() -> None:
    external = "postgresql://postgres.ref:pw@aws-0-eu.pooler.supabase.com:6543/postgres"
    env = container_env("spawner", PLATFORM_ENV="prod", DATABASE_URL=external)
    settings = settings_from(env, "spawner")
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == external
    assert stack()["services"]["postgres"]["profiles"] == ["local-db"]
    # A stack without the bundled database does not wait for it.
    assert stack()["services"]["migrate"]["depends_on"]["postgres"]["required"] is False


def test_the_backend_listens_where_it_is_published_and_checked() -> None:
    settings = settings_from(container_env("backend"), "backend")
    assert settings.backend_host == "0.0.0.0"  # noqa: S104 - in its container, on purpose
    published = stack()["services"]["backend"]["ports"]
    assert published == [f"8000:{settings.backend_port}"]


def test_workers_spool_to_a_volume_that_outlives_containers() -> None:
    services = stack()
    for worker in WORKERS:
        settings = settings_from(container_env(worker), worker)  # type: ignore[arg-type]
        mounts = {m.split(":")[1]: m.split(":")[0] for m in services["services"][worker]["volumes"]}
        assert str(settings.spool_dir) in mounts, worker
        assert mounts[str(settings.spool_dir)] in services["volumes"], "a named volume"


def test_the_stop_grace_period_covers_the_drain() -> None:
    services = stack()["services"]
    for worker in WORKERS:
        settings = settings_from(container_env(worker), worker)  # type: ignore[arg-type]
        grace = seconds(services[worker]["stop_grace_period"])
        # The drain, then a margin for ending what is left and writing its records.
        assert grace >= settings.worker_drain_timeout_s + 30, worker
        assert services[worker].get("stop_signal", "SIGTERM") == "SIGTERM"


def test_one_platform_env_per_stack_and_two_stacks_never_share_an_agent_name() -> None:
    names = {}
    for env_name in ("staging", "prod"):
        stack_env = {s: container_env(s, PLATFORM_ENV=env_name) for s in PLATFORM_SERVICES}
        assert {e["PLATFORM_ENV"] for e in stack_env.values()} == {env_name}
        # No service names its agent itself: the names follow PLATFORM_ENV alone.
        for env in stack_env.values():
            assert not {"VOXIE_AGENT_NAME", "SPAWNER_AGENT_NAME"} & set(env)
        settings = settings_from(stack_env["backend"], "backend")
        names[env_name] = {settings.worker_agent_name(role) for role in WorkerRole}
        assert stack(PLATFORM_ENV=env_name)["name"] == f"voxie-{env_name}"
    assert not names["staging"] & names["prod"]
    # And PLATFORM_ENV has no default here: a stack must name itself.
    with pytest.raises(MissingVariable, match="PLATFORM_ENV"):
        interpolated(RAW, {k: v for k, v in operator_env().items() if k != "PLATFORM_ENV"})


def test_without_livekit_credentials_compose_refuses_to_start() -> None:
    unset = operator_env(LIVEKIT_API_KEY="")
    with pytest.raises(MissingVariable, match="LIVEKIT_API_KEY"):
        interpolated(RAW, unset)


def test_production_refuses_the_example_as_it_is() -> None:
    # .env.example's empty secrets are refused by the processes as well (outside dev/test).
    env = image_env() | dotenv({"PLATFORM_ENV": "prod"}) | {"DATABASE_URL": "postgresql://x@db/x"}
    with pytest.raises(ConfigError, match="LIVEKIT_API_KEY"):
        settings_from(env, "spawner")


def test_livekit_signs_webhooks_with_the_platform_key_and_sends_them_to_the_backend() -> None:
    services = stack()["services"]
    livekit = services["livekit"]
    environment = livekit["environment"]
    key, secret = SECRET_VALUES["LIVEKIT_API_KEY"], SECRET_VALUES["LIVEKIT_API_SECRET"]
    assert environment["LIVEKIT_KEYS"] == f"{key}: {secret}"
    assert environment["LIVEKIT_WEBHOOK_API_KEY"] == key
    [mount] = livekit["volumes"]
    source, target, mode = mount.split(":")
    assert (COMPOSE_FILE.parent / source).resolve() == LIVEKIT_CONFIG and mode == "ro"
    assert livekit["command"] == ["--config", target]

    config = yaml.safe_load(LIVEKIT_CONFIG.read_text())
    assert "keys" not in config and "api_key" not in config.get("webhook", {})
    [url] = config["webhook"]["urls"]
    backend = settings_from(container_env("backend"), "backend")
    assert url == f"http://backend:{backend.backend_port}{webhook_operations[0].path}"
    # The port the platform's containers dial is the one LiveKit listens on.
    assert f":{config['port']}" in container_env("spawner")["LIVEKIT_URL"]


SECRETISH = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|DATABASE_URL|SERVICE_ROLE|LIVEKIT_KEYS")


def test_no_secret_is_written_in_the_file() -> None:
    for name, service in RAW["services"].items():
        environment = service.get("environment") or {}
        for variable, value in environment.items():
            if not SECRETISH.search(variable):
                continue
            # Every secret comes from .env: what is left after removing the references (and
            # the connection string's fixed parts) holds no credential.
            literal = re.sub(r"\$\{[^{}]*(\$\{[^{}]*\}[^{}]*)*\}", "", str(value))
            assert literal in ("", ": ") or "@" not in literal, (name, variable, value)
    text = COMPOSE_FILE.read_text() + LIVEKIT_CONFIG.read_text()
    for pattern in (r"sk-[A-Za-z0-9]", r"://[^$\s/]+:[^${\s]+@", r"eyJ[A-Za-z0-9_-]{10}"):
        assert not re.search(pattern, text), pattern
