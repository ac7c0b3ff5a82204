"""The slug lookup behind `voxiectl agents find|show`: any spelling finds the agent, a miss says
which slug was meant (the seeds' `clarence_coherence` story)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from shared.contracts import AgentConfig
from tests.spawner.conftest import new_agent
from voxiectl.agents import find_slug


def stored(slug: str) -> AgentConfig:
    now = datetime.now(UTC)
    values = new_agent(slug=slug).model_dump()
    return AgentConfig.model_validate(
        {**values, "id": uuid4(), "version": 1, "created_at": now, "updated_at": now}
    )


FLEET = [stored("farah"), stored("litebridge"), stored("clarence-coherence")]


def test_any_spelling_of_a_slug_finds_the_agent() -> None:
    for typed in ("clarence_coherence", "Clarence Coherence", " clarence--coherence "):
        match = find_slug(typed, FLEET)
        assert match.canonical == "clarence-coherence"
        assert [a.slug for a in match.found] == ["clarence-coherence"]
        assert match.hint is None


def test_a_miss_says_which_slug_was_meant() -> None:
    match = find_slug("clarence-coherance", FLEET)
    assert match.found == [] and match.suggestions == ["clarence-coherence"]
    assert match.hint == "did you mean 'clarence-coherence'?"
    nothing_near = find_slug("zebra", FLEET)
    assert nothing_near.found == [] and nothing_near.suggestions == []
    assert nothing_near.hint is None


def test_a_slug_two_owners_use_finds_both() -> None:
    twins = [stored("farah"), stored("farah")]
    assert len(find_slug("Farah", twins).found) == 2
