"""Owner secrets at rest: AES-256-GCM (the `cryptography` package), keyed from `SECRETS_KEYS`.

Why AES-GCM and not Fernet: GCM authenticates associated data, and each ciphertext is bound to
its owner and name (`owner_id:name` as the AAD). A row copied to another owner, or renamed, in
the database no longer decrypts: whoever can write the table still cannot move a secret to a
tool of theirs.

A sealed value is `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, with a fresh random 96-bit
nonce per seal. The key id is the first 8 hex digits of SHA-256 of the key, so a reader picks the
key without trying each.

Rotation: put a new key first in `SECRETS_KEYS` (the first key seals, every listed key opens)
and deploy it to every backend and spawner; `voxiectl secrets rotate` re-seals every row that is
not under the first key; then remove the old key. Nothing is unreadable at any step.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

FORMAT = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12


class SecretsNotConfigured(RuntimeError):
    """No `SECRETS_KEYS`: secrets can be neither stored nor read."""


class SecretUnreadable(ValueError):
    """A stored value no listed key opens (a removed key, or a row moved or tampered with)."""


def parse_key(text: str, variable: str = "SECRETS_KEYS") -> bytes:
    """A key as `SECRETS_KEYS` (or `variable`, another list of keys in this form, such as
    API_KEY_HASH_KEYS) lists it: 32 bytes in base64 (url-safe or standard)."""
    try:
        key = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        raise ValueError(f"an entry of {variable} is not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"an entry of {variable} must be {KEY_BYTES} bytes, not {len(key)}")
    return key


def new_key() -> str:
    """A fresh key in the form `SECRETS_KEYS` takes."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _aad(owner_id: UUID, name: str) -> bytes:
    return f"{owner_id}:{name}".encode()


class SecretBox:
    """Seals with the first key; opens with whichever listed key sealed."""

    def __init__(self, keys: Sequence[SecretStr]) -> None:
        parsed = [parse_key(k.get_secret_value()) for k in keys]
        self._keys = {_key_id(k): AESGCM(k) for k in parsed}
        self._current = _key_id(parsed[0]) if parsed else None

    @property
    def configured(self) -> bool:
        return self._current is not None

    def seal(self, owner_id: UUID, name: str, value: str) -> str:
        if self._current is None:
            raise SecretsNotConfigured("SECRETS_KEYS is not set: secrets cannot be stored")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(nonce, value.encode(), _aad(owner_id, name))
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{FORMAT}.{self._current}.{body}"

    def open(self, owner_id: UUID, name: str, sealed: str) -> SecretStr:
        if self._current is None:
            raise SecretsNotConfigured("SECRETS_KEYS is not set: secrets cannot be read")
        try:
            version, key_id, body = sealed.split(".", 2)
            raw = base64.urlsafe_b64decode(body)
        except (ValueError, binascii.Error):
            raise SecretUnreadable(f"secret '{name}' is not a sealed value") from None
        aead = self._keys.get(key_id)
        if version != FORMAT or aead is None:
            raise SecretUnreadable(f"secret '{name}' was sealed with a key SECRETS_KEYS lacks")
        try:
            plain = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(owner_id, name))
        except InvalidTag:
            raise SecretUnreadable(f"secret '{name}' does not open for its owner") from None
        return SecretStr(plain.decode())

    def current(self, sealed: str) -> bool:
        """True when `sealed` is under the first key (nothing to rotate)."""
        return sealed.startswith(f"{FORMAT}.{self._current}.")
