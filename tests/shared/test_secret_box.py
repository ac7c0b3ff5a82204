"""Sealing owners' secrets: AES-GCM bound to owner and name, and key rotation."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import SecretStr

from shared.secret_box import SecretBox, SecretsNotConfigured, SecretUnreadable, new_key, parse_key


def box(*keys: str) -> SecretBox:
    return SecretBox([SecretStr(k) for k in keys])


def test_a_sealed_value_opens_only_for_its_owner_and_name() -> None:
    owner, other = uuid4(), uuid4()
    sealer = box(new_key())
    sealed = sealer.seal(owner, "CLINIC", "Bearer abc")
    assert "Bearer abc" not in sealed and sealed.startswith("v1.")
    assert sealer.open(owner, "CLINIC", sealed).get_secret_value() == "Bearer abc"
    assert sealer.seal(owner, "CLINIC", "Bearer abc") != sealed  # a fresh nonce each time
    # A row moved to another owner or renamed in the database no longer opens.
    for where in ((other, "CLINIC"), (owner, "CLINIC2")):
        with pytest.raises(SecretUnreadable):
            sealer.open(*where, sealed)
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretUnreadable):
        sealer.open(owner, "CLINIC", tampered)


def test_rotation_seals_with_the_first_key_and_opens_with_any() -> None:
    owner = uuid4()
    old, new = new_key(), new_key()
    sealed_old = box(old).seal(owner, "A", "v")
    rotating = box(new, old)
    assert not rotating.current(sealed_old)
    assert rotating.open(owner, "A", sealed_old).get_secret_value() == "v"
    resealed = rotating.seal(owner, "A", "v")
    assert rotating.current(resealed)
    assert box(new).open(owner, "A", resealed).get_secret_value() == "v"
    with pytest.raises(SecretUnreadable, match="key SECRETS_KEYS lacks"):
        box(new).open(owner, "A", sealed_old)


def test_without_keys_nothing_is_sealed_or_opened() -> None:
    with pytest.raises(SecretsNotConfigured):
        box().seal(uuid4(), "A", "v")
    with pytest.raises(SecretsNotConfigured):
        box().open(uuid4(), "A", "v1.x.y")


@pytest.mark.parametrize("text", ["", "not base64!", "c2hvcnQ="])
def test_a_malformed_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="SECRETS_KEYS"):
        parse_key(text)
