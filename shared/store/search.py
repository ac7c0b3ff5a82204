"""What a search of the agents list matches: one rule, used by both stores.

Written by a person in the dashboard's search box (`GET /api/agents?q=…`, `voxiectl agents list
--search …`); read by `AgentStore.list_agents(search=…)`. A search matches an agent whose name,
slug or voice contains the text, ignoring case; in the operator's listing (every owner's agents)
it also matches the agents of every owner whose id starts with it. Example: `"coherence"` finds
"Clarence Coherence"; the operator's `"9b1d2c3e"` also finds every agent of owner
`9b1d2c3e-0000-4000-8000-00000000a11c`.

The text is data, never syntax: `50%_off` finds exactly "50%_off", `a,b)` exactly "a,b)", and
neither can widen the search or break the request. Both stores match with Postgres's
case-insensitive regular expression operator `~*` on the text escaped to a literal
(`literal_pattern`). Not `ILIKE`: PostgREST turns every `*` of an `ilike` value into `%` and has
no escape for it, so over REST a search for "a*b" would match "a-anything-b"; one operator and one
pattern in both stores keep their answers identical, character for character.

No index serves a substring match: a B-tree cannot, and a `pg_trgm` trigram index could (for
texts of three characters or more) but needs an extension the project cannot count on (Supabase
offers it switched off; a DATABASE_URL server may lack contrib). A user's search reads only their
agents (found by the owner index); the operator's reads the table: about 60 ms for 20,000 agents
on a development machine. Add a trigram index if fleets grow far past that.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shared.store.errors import InvalidInput

MAX_SEARCH_LENGTH = 100
# The agent columns a search looks in (the owner id is matched by prefix, separately).
SEARCHED_COLUMNS = ("name", "slug", "voice")

_UUID_TEMPLATE = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
_HEX_DIGITS = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class AgentSearch:
    """A search as the stores apply it."""

    # The text, trimmed, as a pattern for `~*` in which every character means itself.
    pattern: str
    # The owner ids that start with the text (inclusive bounds), when it can begin an owner id
    # and the listing spans every owner; else None.
    owner_ids: tuple[UUID, UUID] | None


def agent_search(text: str | None, *, every_owner: bool) -> AgentSearch | None:
    """The search `text` asks for, or None when it asks for none (absent or blank).

    InvalidInput when it is longer than MAX_SEARCH_LENGTH or holds a NUL character (which no
    stored text can hold: Postgres refuses it in text).
    """
    if text is None:
        return None
    check_search(text)
    text = text.strip()
    if not text:
        return None
    owner_ids = owner_id_range(text) if every_owner else None
    return AgentSearch(literal_pattern(text), owner_ids)


def check_search(text: str) -> None:
    if (reason := search_error(text)) is not None:
        raise InvalidInput(reason)


def search_error(text: str) -> str | None:
    """Why `text` is not a search, or None if it is one."""
    if len(text) > MAX_SEARCH_LENGTH:
        return f"a search is at most {MAX_SEARCH_LENGTH} characters"
    if "\x00" in text:
        return "a search cannot contain a NUL character"
    return None


def literal_pattern(text: str) -> str:
    """`text` as a Postgres regular expression (ARE) that matches exactly it.

    A backslash before a non-alphanumeric character makes that character literal; a backslash
    before a letter or digit would start an escape (`\\d`), so those stay bare, as does every
    non-ASCII character (none is special in a regular expression)."""
    return "".join(f"\\{c}" if c.isascii() and not c.isalnum() else c for c in text)


def owner_id_range(text: str) -> tuple[UUID, UUID] | None:
    """The lowest and highest owner ids whose canonical text starts with `text` (any case), or
    None if no id can: Postgres orders UUIDs by their bytes, which is the order of their
    canonical hexadecimal text, so a prefix is a range an index can serve."""
    prefix = text.lower()
    if len(prefix) > len(_UUID_TEMPLATE):
        return None
    for char, slot in zip(prefix, _UUID_TEMPLATE, strict=False):
        if (slot == "-") != (char == "-") or (slot == "x" and char not in _HEX_DIGITS):
            return None
    rest = _UUID_TEMPLATE[len(prefix) :]
    return UUID(prefix + rest.replace("x", "0")), UUID(prefix + rest.replace("x", "f"))
