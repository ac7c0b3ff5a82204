"""Names that cross process boundaries: rooms and their kinds, worker roles and agent slugs.

Room names are written by the backend (when it creates a room) and read by both workers' request
handlers and the reconciler:

    voxie-creation-k3j9x2m4q8wz
    agent-3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44-p9s8d7f6g5h4

Parsing is strict: a name that does not match gives `None` ("no agent id"), never a guess.
Every pattern here validates whole strings (`re.fullmatch`): `$` would also match before a
trailing newline. Standard library only, so any module (the settings included) may import it;
the worker agent names, which read the settings, are `Settings.worker_agent_name`.
"""

from __future__ import annotations

import difflib
import re
import secrets
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

VOXIE_ROOM_PREFIX = "voxie-creation-"
AGENT_ROOM_PREFIX = "agent-"
# The operator doctor's probe rooms (`shared.contracts.probe`): not a platform room, so the
# reconciler, the API's room lists and the webhook pass them over.
PROBE_ROOM_PREFIX = "platform-probe-"
SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
SUFFIX_LENGTH = 12  # 36**12 ≈ 4.7e18: collisions are not a concern
SLUG_MAX_LENGTH = 63

_SUFFIX = r"[a-z0-9]{8,64}"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_VOXIE_ROOM = re.compile(rf"voxie-creation-(?P<suffix>{_SUFFIX})")
_AGENT_ROOM = re.compile(rf"agent-(?P<agent_id>{_UUID})-(?P<suffix>{_SUFFIX})")
_PROBE_ROOM = re.compile(rf"platform-probe-{_SUFFIX}")
# Lowercase words joined by single hyphens: slugs, and PLATFORM_ENV / the dispatch's deployment.
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# The slug rules as JSON Schema patterns (a search, so anchored) for the API's document: the
# shape, and the slug-shaped strings `UUID()` reads as an id (32 hex digits, hyphens anywhere).
SLUG_PATTERN = rf"^{_SLUG.pattern}$"
SLUG_UUID_FORM_PATTERN = r"^[0-9a-f](?:-?[0-9a-f]){31}$"


class WorkerRole(StrEnum):
    VOXIE = "voxie"
    SPAWNER = "spawner"


class RoomKind(StrEnum):
    """The two kinds of platform room, each served by one worker role."""

    CREATION = "creation"  # voxie-creation-{suffix}: Voxie
    AGENT = "agent"  # agent-{agent_id}-{suffix}: the spawner

    @property
    def role(self) -> WorkerRole:
        """The worker deployment that serves rooms of this kind (and only those)."""
        return WorkerRole.VOXIE if self is RoomKind.CREATION else WorkerRole.SPAWNER


@dataclass(frozen=True, slots=True)
class RoomName:
    """A parsed platform room name."""

    kind: RoomKind
    suffix: str
    agent_id: UUID | None = None

    def __str__(self) -> str:
        if self.kind is RoomKind.CREATION:
            return f"{VOXIE_ROOM_PREFIX}{self.suffix}"
        return f"{AGENT_ROOM_PREFIX}{self.agent_id}-{self.suffix}"


def new_room_suffix() -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))


def voxie_room_name(suffix: str | None = None) -> str:
    return str(RoomName(RoomKind.CREATION, _checked_suffix(suffix)))


def agent_room_name(agent_id: UUID | str, suffix: str | None = None) -> str:
    return str(RoomName(RoomKind.AGENT, _checked_suffix(suffix), UUID(str(agent_id))))


def parse_room_name(name: str) -> RoomName | None:
    """The room's kind, agent id and suffix, or None for any name the platform did not make."""
    if match := _AGENT_ROOM.fullmatch(name):
        return RoomName(RoomKind.AGENT, match["suffix"], UUID(match["agent_id"]))
    if match := _VOXIE_ROOM.fullmatch(name):
        return RoomName(RoomKind.CREATION, match["suffix"])
    return None


def agent_id_from_room(name: str) -> UUID | None:
    parsed = parse_room_name(name)
    return parsed.agent_id if parsed else None


def is_platform_room(name: str) -> bool:
    return parse_room_name(name) is not None


def probe_room_name(suffix: str | None = None) -> str:
    return f"{PROBE_ROOM_PREFIX}{_checked_suffix(suffix)}"


def is_probe_room(name: str) -> bool:
    return _PROBE_ROOM.fullmatch(name) is not None


def _checked_suffix(suffix: str | None) -> str:
    if suffix is None:
        return new_room_suffix()
    if not re.fullmatch(_SUFFIX, suffix):
        raise ValueError("a room suffix is 8 to 64 lowercase letters or digits")
    return suffix


# --- slugs -------------------------------------------------------------------------------------


class InvalidSlug(ValueError):
    """The slug cannot be used; the message says why."""


def normalize_slug(raw: str) -> str:
    """`Clarence Coherence`, `clarence_coherence`, ` Clarence--Coherence ` → `clarence-coherence`.

    Accents fold to ASCII, every run of other characters becomes one hyphen. The result may
    still be invalid (empty, too long): `validate_slug` says so.
    """
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def has_slug_shape(value: str) -> bool:
    """Lowercase letters and digits joined by single hyphens (the whole string)."""
    return _SLUG.fullmatch(value) is not None


def is_uuid(value: str) -> bool:
    """Whether `UUID()` accepts `value` in any of its forms (32 hex digits, hyphens anywhere,
    braces, `urn:uuid:`), as the API does when it reads an id-or-slug path segment."""
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def validate_slug(slug: str) -> str:
    """Returns `slug` if it is canonical, else raises `InvalidSlug` with the reason."""
    if not slug:
        raise InvalidSlug("a slug needs at least one letter or digit")
    if len(slug) > SLUG_MAX_LENGTH:
        raise InvalidSlug(f"a slug is at most {SLUG_MAX_LENGTH} characters, this is {len(slug)}")
    if is_uuid(slug):
        # The API accepts an id or a slug in the same path segment: this one would read as an id.
        raise InvalidSlug("a slug must not look like an agent id (UUID)")
    if not has_slug_shape(slug):
        canonical = normalize_slug(slug)
        hint = f"; did you mean '{canonical}'?" if canonical else ""
        raise InvalidSlug(
            f"'{slug}' is not a slug: use lowercase letters and digits joined by single "
            f"hyphens{hint}"
        )
    return slug


def slug_from(raw: str) -> str:
    """Normalises free text (a name, a non-canonical slug) to a valid slug or raises InvalidSlug."""
    return validate_slug(normalize_slug(raw)[:SLUG_MAX_LENGTH].rstrip("-"))


def closest_slugs(slug: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """The known slugs a mistyped one most likely meant, best first."""
    return difflib.get_close_matches(slug, list(candidates), n=limit, cutoff=0.6)
