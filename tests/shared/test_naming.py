from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from shared.naming import (
    InvalidSlug,
    WorkerRole,
    agent_id_from_room,
    agent_room_name,
    closest_slugs,
    normalize_slug,
    parse_room_name,
    slug_from,
    validate_slug,
    voxie_room_name,
    worker_agent_name,
)
from tests.conftest import make_settings

AGENT_ID = UUID("3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44")


def test_room_names_round_trip() -> None:
    name = agent_room_name(AGENT_ID)
    assert name.startswith(f"agent-{AGENT_ID}-")
    parsed = parse_room_name(name)
    assert parsed is not None and parsed.kind == "agent" and parsed.agent_id == AGENT_ID
    assert str(parsed) == name

    creation = voxie_room_name("abcd1234")
    assert creation == "voxie-creation-abcd1234"
    parsed = parse_room_name(creation)
    assert parsed is not None and parsed.kind == "creation" and parsed.agent_id is None


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


def test_worker_agent_names_follow_platform_env() -> None:
    settings = make_settings(
        platform_env="staging",
        livekit_api_key="APIstaging",
        livekit_api_secret="staging-secret-value",
        database_url="postgresql://db/voxie",
    )
    assert worker_agent_name(WorkerRole.VOXIE, settings) == "voxie-staging"
    assert worker_agent_name(WorkerRole.SPAWNER, settings) == "spawner-staging"


def test_worker_agent_name_overrides() -> None:
    settings = make_settings(spawner_agent_name="spawner-eu-docker", voxie_agent_name="")
    assert worker_agent_name(WorkerRole.SPAWNER, settings) == "spawner-eu-docker"
    assert worker_agent_name(WorkerRole.VOXIE, settings) == "voxie-dev"
