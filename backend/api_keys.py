"""API keys on the backend's side: minting them, and finding whose a presented key is.

Stored is `HMAC-SHA-256(hash key, key)` in hex, the hash key from API_KEY_HASH_KEYS. Why a fast
keyed hash and not bcrypt or argon2: those are slow on purpose so that a stolen table does not
give up *guessable* passwords; a key is 256 random bits, which no speed of hashing makes
guessable, so slowness would buy nothing and cost every API request (HMAC-SHA-256 of a key takes
about 5 µs here, scrypt at its usual n=2^14 about 115 ms of CPU, on the request path). A
deterministic hash is also what lets a key be found by one indexed lookup instead of testing it
against every row. The hash is keyed so that the table alone (a leaked backup, a read-only SQL
hole) cannot even confirm a guess: that needs the server's secret too. A lookup by hash in SQL
compares digests, not the key, so it leaks no timing about the key itself.

No cache of valid keys: every request with a key asks the store (one indexed read in
`use_api_key`, which also writes "last used" at most once a minute). A cache in one replica
would outlive a revocation made through another, and there is no cross-replica signal to evict
it over the Supabase REST store. The read costs about 2 ms a request on a local Postgres
(`bench.api_keys`), the price of a revocation that holds everywhere from the next request.

Rotation: put a new key first in API_KEY_HASH_KEYS; new API keys are hashed under it and every
listed hash key is tried on lookup, so existing API keys keep working while an old hash key is
listed. Dropping a hash key invalidates the API keys made under it (their owners mint new ones).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from uuid import UUID

from pydantic import SecretStr

from backend.problems import Problem, unavailable
from shared.contracts.api_keys import ApiKeyCreated, StoredApiKey, key_prefix, new_api_key
from shared.secret_box import parse_key
from shared.store import AgentStore

VARIABLE = "API_KEY_HASH_KEYS"


def not_configured() -> Problem:
    return unavailable(
        "api-keys-not-configured",
        "API keys are not configured on this backend: the operator sets API_KEY_HASH_KEYS "
        "(`voxiectl secrets new-key` makes a key)",
        retry_after_s=300,
    )


class ApiKeys:
    """Mints keys for owners and finds the key a request presents, by its keyed hash."""

    def __init__(self, hash_keys: Sequence[SecretStr], store: AgentStore) -> None:
        self._secrets = [parse_key(k.get_secret_value(), VARIABLE) for k in hash_keys]
        self._store = store

    @property
    def configured(self) -> bool:
        return bool(self._secrets)

    def _digests(self, key: str) -> list[str]:
        """The key's hash under each hash key; the first is what a new key is stored under."""
        if not self._secrets:
            raise not_configured()
        return [hmac.new(s, key.encode(), hashlib.sha256).hexdigest() for s in self._secrets]

    async def mint(self, owner_id: UUID, name: str) -> ApiKeyCreated:
        key = new_api_key()
        stored = await self._store.create_api_key(
            owner_id, name, key_prefix(key), self._digests(key)[0]
        )
        return ApiKeyCreated(**stored.info().model_dump(), key=key)

    async def find(self, key: str) -> StoredApiKey | None:
        """The live key `key` is (marked used), or None: revoked, or never issued."""
        return await self._store.use_api_key(self._digests(key))
