"""Where `scripts/start` keeps the local platform's credentials, and the settings a `voxiectl`
command gets beside it.

The launcher (`voxiectl start`) makes, once, and keeps under the data directory (`.data/`, the
parent of LOCAL_DB_DIR): the operator token, the dev sign-in's secret, the key that seals owners'
secrets, the key owners' API keys are hashed under, and the local livekit-server's API key pair;
it hands them to the processes it starts as environment variables. A `voxiectl` command run in
another terminal has none of those variables: `as_launched` reads them from the same files, so
`voxiectl doctor` or `rooms list` talks to the platform `scripts/start` runs — in dev/test
only, for what the environment leaves unset, and without creating anything.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from shared.secret_box import parse_key
from shared.settings import Settings
from voxiectl import livekit_local


@dataclass(frozen=True)
class LocalFiles:
    """The files of one data directory (`.data/`)."""

    data_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> LocalFiles:
        return cls(settings.local_db_dir.parent)

    @property
    def operator_token(self) -> Path:
        return self.data_dir / "operator-token"

    @property
    def dev_auth_secret(self) -> Path:
        return self.data_dir / "dev-auth-secret"

    @property
    def secrets_key(self) -> Path:
        return self.data_dir / "secrets-key"

    @property
    def api_key_hash_key(self) -> Path:
        return self.data_dir / "api-key-hash-key"

    @property
    def livekit_dir(self) -> Path:
        return self.data_dir / "livekit"

    @property
    def livekit_keys(self) -> Path:
        return self.livekit_dir / "keys"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def as_launched(settings: Settings) -> Settings:
    """`settings`, with what the launcher gave its processes filled in where unset (dev/test)."""
    if not settings.is_development:
        return settings
    files = LocalFiles.of(settings)
    update: dict[str, Any] = {}
    if "livekit_url" not in settings.model_fields_set and not settings.livekit_configured:
        credentials = livekit_local.Credentials.read(files.livekit_keys)
        if credentials is not None:
            update |= {
                "livekit_url": f"ws://{livekit_local.LOOPBACK}:{settings.local_livekit_port}",
                "livekit_api_key": credentials.api_key,
                "livekit_api_secret": SecretStr(credentials.api_secret),
            }
    if settings.backend_admin_token is None and (token := _read(files.operator_token)):
        update["backend_admin_token"] = SecretStr(token)
    if not settings.secrets_keys and (key := _read(files.secrets_key)):
        with contextlib.suppress(ValueError):  # a key edited by hand: left unset
            parse_key(key)
            update["secrets_keys"] = [SecretStr(key)]
    # As the launcher does: the values are of their fields' types, read from its own files.
    return settings.model_copy(update=update) if update else settings
