"""Per-owner API keys: what a key looks like, and the API's shapes for minting and listing them.

An owner's servers call the API as the owner with `Authorization: Bearer vx_live_…`
(`backend.auth`). Writers: the owner, signed in (`POST`/`DELETE /api/keys`; a key cannot mint or
revoke keys). Readers: the backend on every request with a key (the store's `use_api_key`, by
keyed hash — the key itself is never stored), and the owner's list (`GET /api/keys`).

A key is `vx_live_` and 43 base62 characters: 32 random bytes (256 bits) written in a fixed
width, so every key has the same length and its prefix (the first 12 characters, shown in the
list) tells keys apart without helping a guess.

Example (`POST /api/keys` body, then its 201 answer — the only time `key` is ever shown):

    {"name": "crm-sync"}

    {"id": "5f0c9a8e-3b1d-4c2a-9e7f-1a2b3c4d5e6f", "name": "crm-sync", "prefix": "vx_live_7Gq2",
     "created_at": "2026-12-07T10:00:00Z", "last_used_at": null,
     "key": "vx_live_7Gq2vN0cXw3kPz8RfT1yLb5mHd9sJa4eUo6iQx2Cn0V"}
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

KEY_PREFIX = "vx_live_"
KEY_RANDOM_BYTES = 32
# 62**43 > 2**256 > 62**42: 43 base62 digits hold any 32 bytes.
KEY_BODY_LENGTH = 43
KEY_LENGTH = len(KEY_PREFIX) + KEY_BODY_LENGTH
PREFIX_LENGTH = 12
MAX_API_KEYS_PER_OWNER = 20
MAX_KEY_NAME = 64

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_PATTERN = rf"^{KEY_PREFIX}[0-9A-Za-z]{{{KEY_BODY_LENGTH}}}$"
_KEY_RE = re.compile(KEY_PATTERN)
# Letters, digits, spaces, dots, underscores and hyphens; starts with a letter or digit and does
# not end in a space. The same rule is the table's check (the API keys migration).
KEY_NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?$"
_NAME_RE = re.compile(KEY_NAME_PATTERN)


def new_api_key() -> str:
    """A fresh key: `vx_live_` and 32 random bytes in fixed-width base62."""
    number = int.from_bytes(os.urandom(KEY_RANDOM_BYTES), "big")
    digits = []
    for _ in range(KEY_BODY_LENGTH):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return KEY_PREFIX + "".join(reversed(digits))


def is_api_key(token: str) -> bool:
    """The bearer token is meant as an API key (as opposed to the operator token or a JWT):
    whether it is well formed is `is_well_formed`'s question."""
    return token.startswith(KEY_PREFIX)


def is_well_formed(key: str) -> bool:
    return bool(_KEY_RE.fullmatch(key))


def key_prefix(key: str) -> str:
    """What the owner's list shows of a key."""
    return key[:PREFIX_LENGTH]


def _key_name(value: str) -> str:
    if not _NAME_RE.fullmatch(value):
        raise ValueError(
            f"a key's name is 1 to {MAX_KEY_NAME} letters, digits, spaces, dots, underscores or "
            "hyphens, starting with a letter or digit (e.g. crm-sync)"
        )
    return value


KeyName = Annotated[
    str,
    StringConstraints(max_length=MAX_KEY_NAME),
    Field(json_schema_extra={"pattern": KEY_NAME_PATTERN, "minLength": 1}),
    AfterValidator(_key_name),
]


class ApiKeyCreate(BaseModel):
    """`POST /api/keys`: a name for the new key, to tell it apart in the list."""

    model_config = ConfigDict(extra="forbid")

    name: KeyName = Field(description="what the key is for, e.g. crm-sync")


class ApiKeyInfo(BaseModel):
    """A key as its owner's list shows it: never the key, only its prefix."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    name: str
    prefix: str = Field(description="the key's first 12 characters")
    created_at: datetime
    last_used_at: datetime | None = Field(
        default=None, description="the last request made with it, to within a minute"
    )


class ApiKeyCreated(ApiKeyInfo):
    """`POST /api/keys`'s answer: the only time the key itself is shown."""

    key: str = Field(
        description="the key; shown once, never again (only a keyed hash of it is stored)",
        json_schema_extra={"pattern": KEY_PATTERN},
    )


class ApiKeyList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ApiKeyInfo]


class StoredApiKey(BaseModel):
    """A row of `api_keys` as the store hands it out: without its hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: UUID
    owner_id: UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None

    def info(self) -> ApiKeyInfo:
        return ApiKeyInfo(
            id=self.id,
            name=self.name,
            prefix=self.prefix,
            created_at=self.created_at,
            last_used_at=self.last_used_at,
        )
