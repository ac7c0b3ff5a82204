""".env.example lists every variable a process reads, each with a comment above it."""

from __future__ import annotations

import re
from pathlib import Path

from shared.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
TOOLING = {"PYTHON", "TEST_DATABASE_URL", "LIVEKIT_SERVER_BIN"}
# Read by Docker Compose from deploy/.env, not by the platform (deploy/compose.yaml).
COMPOSE = {"COMPOSE_PROFILES", "POSTGRES_PASSWORD", "VOXIE_IMAGE", "BACKEND_PUBLISH_PORT"}


def documented() -> dict[str, str]:
    """Variable name → the comment line just above it."""
    found: dict[str, str] = {}
    previous = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line):
            found[match[1]] = previous
        previous = line
    return found


def test_every_setting_is_documented_and_nothing_else() -> None:
    settings = {name.upper() for name in Settings.model_fields}
    assert set(documented()) == settings | TOOLING | COMPOSE


def test_every_variable_has_a_comment() -> None:
    for name, comment in documented().items():
        assert comment.startswith("# ") and len(comment) > 8, name


def test_the_example_itself_is_valid_settings() -> None:
    values = {
        name.lower(): value
        for name, value in (
            line.split("=", 1)
            for line in ENV_EXAMPLE.read_text().splitlines()
            if line and not line.startswith("#")
        )
    }
    Settings(_env_file=None, **values)
