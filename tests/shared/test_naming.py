from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from shared.naming import (
    InvalidSlug,
    RoomKind,
    WorkerRole,
    agent_id_from_room,
    agent_room_name,
    closest_slugs,
    is_probe_room,
    normalize_slug,
    parse_room_name,
    probe_room_name,
    slug_from,
    validate_slug,
    voxie_room_name,
)

AGENT_ID = UUID("3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44")


def test_room_names_round_trip() -> None:
    name = agent_room_name(AGENT_ID)
    assert name.startswith(f"agent-{AGENT_ID}-")
    parsed = parse_room_name(name)
    assert parsed is not None and parsed.kind is RoomKind.AGENT and parsed.agent_id == AGENT_ID
    assert str(parsed) == name

    creation = voxie_room_name("abcd1234")
    assert creation == "voxie-creation-abcd1234"
    parsed = parse_room_name(creation)
    assert parsed is not None and parsed.kind is RoomKind.CREATION and parsed.agent_id is None


def test_generated_suffixes_are_distinct() -> None:
    assert len({voxie_room_name() for _ in range(200)}) == 200


def test_agent_id_accepts_str_and_canonicalises_case() -> None:
    upper = str(AGENT_ID).upper()
    assert agent_room_name(upper, "abcdefgh") == f"agent-{AGENT_ID}-abcdefgh"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "agent-",
        "agent-123-abcdefgh",  # not a UUID
        f"agent-{AGENT_ID}",  # no suffix
        f"agent-{AGENT_ID}-abc",  # suffix too short
        f"agent-{AGENT_ID}-ABCDEFGH",  # suffix not lowercase
        f"agent-{str(AGENT_ID).upper()}-abcdefgh",  # non-canonical UUID
        f"agent-{AGENT_ID}-abcdefgh-extra",
        f"xagent-{AGENT_ID}-abcdefgh",
        "voxie-creation-",
        "voxie-creation-short",
        "voxie-creation-abcd1234/../x",
        "voxie-test-abcdefgh",
        "random-room",
        # `$` would match before a trailing newline: names are matched whole.
        f"agent-{AGENT_ID}-abcdefgh\n",
        "voxie-creation-abcd1234\n",
        f"\nagent-{AGENT_ID}-abcdefgh",
    ],
)
def test_non_matching_names_give_no_agent_id(name: str) -> None:
    assert parse_room_name(name) is None
    assert agent_id_from_room(name) is None


def test_bad_suffix_is_refused_when_building() -> None:
    with pytest.raises(ValueError, match="suffix"):
        agent_room_name(uuid4(), "short")


@pytest.mark.parametrize(
    ("raw", "slug"),
    [
        ("clarence_coherence", "clarence-coherence"),  # the seeds' case
        ("Clarence Coherence", "clarence-coherence"),
        ("  Clarence--Coherence  ", "clarence-coherence"),
        ("Café Olé!", "cafe-ole"),
        ("farah", "farah"),
        ("R2-D2", "r2-d2"),
    ],
)
def test_slug_normalisation(raw: str, slug: str) -> None:
    assert normalize_slug(raw) == slug
    assert slug_from(raw) == slug


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("", "at least one"),
        ("clarence_coherence", "did you mean 'clarence-coherence'"),
        ("Clarence", "lowercase"),
        ("a" * 64, "at most 63"),
        ("-lead", "hyphens"),
        ("double--hyphen", "hyphens"),
        (str(AGENT_ID), "UUID"),
        # Every form `UUID()` reads (the API's id-or-slug segment would take it for an id).
        (AGENT_ID.hex, "UUID"),
        ("3f2b8c1e9d4a-4b7e8f00-2a6c5d9e1b44", "UUID"),
        ("3f2b-8c1e-9d4a-4b7e-8f00-2a6c-5d9e-1b44", "UUID"),
        (f"{{{AGENT_ID}}}", "UUID"),
        (f"urn:uuid:{AGENT_ID}", "UUID"),
        ("clarence\n", "hyphens"),
        ("clarence-coherence\n", "hyphens"),
    ],
)
def test_invalid_slugs_are_refused_with_the_reason(slug: str, reason: str) -> None:
    with pytest.raises(InvalidSlug, match=reason):
        validate_slug(slug)


def test_slug_from_text_without_letters_is_refused() -> None:
    with pytest.raises(InvalidSlug):
        slug_from("!!!")


def test_closest_slugs_suggests_near_misses() -> None:
    known = ["clarence-coherence", "farah", "litebridge"]
    assert closest_slugs("clarence-coherense", known) == ["clarence-coherence"]
    assert closest_slugs("zzz", known) == []


def test_room_kinds_name_their_worker_role() -> None:
    assert RoomKind.CREATION.role is WorkerRole.VOXIE
    assert RoomKind.AGENT.role is WorkerRole.SPAWNER
    assert {kind.role for kind in RoomKind} == set(WorkerRole)


def test_a_slug_made_of_hex_digits_but_no_uuid_is_fine() -> None:
    assert validate_slug("deadbeef-cafe") == "deadbeef-cafe"
    assert validate_slug(AGENT_ID.hex[:31]) == AGENT_ID.hex[:31]
    with pytest.raises(InvalidSlug, match="UUID"):
        slug_from(AGENT_ID.hex.upper())


def test_probe_rooms_are_recognised_and_are_not_platform_rooms() -> None:
    probe = probe_room_name("doctorprobe1")
    assert probe == "platform-probe-doctorprobe1" and is_probe_room(probe)
    assert parse_room_name(probe) is None  # the reconciler and the API pass it over
    assert is_probe_room(probe_room_name())
    for other in (voxie_room_name(), agent_room_name(AGENT_ID), "platform-probe-", probe + "\n"):
        assert not is_probe_room(other)


SLUG_TABLE = Path(__file__).parents[1] / "support" / "slugs.json"


@pytest.mark.parametrize("row", json.loads(SLUG_TABLE.read_text(encoding="utf-8"))["slugs"])
def test_slug_from_follows_the_shared_table(row: dict[str, str | None]) -> None:
    """The table the dashboard's copy (lib/slug.ts, the New agent form) is tested against too."""
    text, slug = row["text"], row["slug"]
    assert text is not None
    if slug is None:
        with pytest.raises(InvalidSlug):
            slug_from(text)
    else:
        assert slug_from(text) == slug
