"""Key rotation for owners' secrets (`voxiectl secrets rotate`): every stored value not sealed
under the first of `SECRETS_KEYS` is opened with the key that sealed it and sealed again under
the first. Each row is replaced only if it is still the value read (a delete or re-create in
between is left alone), so it is safe beside running backends."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.secret_box import SecretBox, SecretUnreadable
from shared.store import AgentStore


@dataclass
class Rotation:
    resealed: int = 0
    current: int = 0
    changed_meanwhile: int = 0
    # `owner_id/name` of values no listed key opens: they stay as they are.
    unreadable: list[str] = field(default_factory=list)


async def rotate(store: AgentStore, box: SecretBox) -> Rotation:
    done = Rotation()
    for stored in await store.all_secrets():
        if box.current(stored.ciphertext):
            done.current += 1
            continue
        try:
            value = box.open(stored.owner_id, stored.name, stored.ciphertext)
        except SecretUnreadable:
            done.unreadable.append(f"{stored.owner_id}/{stored.name}")
            continue
        sealed = box.seal(stored.owner_id, stored.name, value.get_secret_value())
        if await store.reseal_secret(stored.owner_id, stored.name, stored.ciphertext, sealed):
            done.resealed += 1
        else:
            done.changed_meanwhile += 1
    return done
