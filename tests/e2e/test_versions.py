"""Agent versions in a real room (issue 17): real backend and spawner processes on a real
livekit-server, a real rtc client as the caller. The model double speaks what the config asks
for (the greeting; when asked anything else, which version its instructions say it is), so
what the caller hears, and the session's recorded version, show which config ran.

- a test call of the draft runs the draft;
- a call keeps its version while a publish happens; the next plain call runs the new one;
- a rollback takes effect on the next call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from livekit import rtc

from shared.contracts import AgentConfig, AgentPatch
from shared.contracts.lifecycle import PREFIX
from shared.store.postgres import PostgresStore
from tests.e2e.support import serving, spawn
from tests.e2e.test_calls import TRANSCRIPTION, ended, hears, join, listening, says
from tests.spawner.conftest import new_agent
from tests.support.human import Human
from tests.support.openai import OpenAIDouble
from tests.support.openai.script import Asked
from tests.support.platform import OPERATOR, Platform

pytestmark = pytest.mark.timeout(300)

GREETING = "Hello from version {}."
MARKER = re.compile(r"I am version (\w+)\.")


def speaks_its_config(asked: Asked) -> str:
    """The greeting when asked to greet; otherwise the version its instructions name."""
    if (greet := re.search(r"exactly these words: (.*)$", asked.instructions, re.S)) is not None:
        return greet.group(1).strip()
    found = MARKER.search(asked.instructions)
    return f"This call runs version {found.group(1)}." if found else "Hm."


def config_of(version: str) -> dict[str, str]:
    return {
        "greeting": GREETING.format(version),
        "instructions": f"You answer the phone for a dentist. I am version {version}.",
    }


@pytest.fixture
def model_speaks_its_config(model: OpenAIDouble) -> Iterator[OpenAIDouble]:
    model.reset()
    model.responder = speaks_its_config
    yield model
    model.reset()


async def call(
    http: httpx.AsyncClient, platform: Platform, agent: AgentConfig, version: object = None
) -> tuple[dict[str, Any], Human, rtc.RemoteParticipant]:
    spawned = await spawn(http, platform.api, agent.id, version=version)
    human, joined = await join(spawned)
    return spawned, human, joined


async def session_version(db: asyncpg.Connection, joined: rtc.RemoteParticipant) -> Any:
    """The version the call's session recorded: a number, or ("draft", its row version)."""
    session_id = joined.attributes[f"{PREFIX}session_id"]
    row = await db.fetchrow(
        "select agent_version, draft_version from call_sessions where id = $1", UUID(session_id)
    )
    assert row is not None
    return row["agent_version"] or ("draft", row["draft_version"])


async def hung_up(db: asyncpg.Connection, human: Human, joined: rtc.RemoteParticipant) -> None:
    await human.leave()
    await ended(db, joined.attributes[f"{PREFIX}session_id"])


async def test_calls_run_the_version_they_were_dispatched_with(
    platform: Platform,
    http: httpx.AsyncClient,
    store: PostgresStore,
    model_speaks_its_config: OpenAIDouble,
    tmp_path: Path,
) -> None:
    await serving(platform, http, GRACE_PERIOD_S="2")
    agent = await store.create_agent(new_agent(**config_of("one")))
    assert agent.published_version == 1
    draft = await store.update_agent(
        agent.id, AgentPatch(**config_of("two")), expected_version=agent.version
    )
    assert draft.has_unpublished_changes
    db = await asyncpg.connect(platform.database_url)
    try:
        # A test call of the draft runs the draft, before anything is published.
        spawned, human, joined = await call(http, platform, agent, "draft")
        assert spawned["version"] == "draft"
        await hears(human, joined, GREETING.format("two"))
        assert await session_version(db, joined) == ("draft", draft.version)
        await hung_up(db, human, joined)

        # A plain call runs the published version 1, and keeps it through a publish.
        spawned, first, first_agent = await call(http, platform, agent)
        assert spawned["version"] == 1
        await hears(first, first_agent, GREETING.format("one"))
        published = await http.post(
            f"{platform.api}/api/agents/{agent.id}/versions",
            json={"note": "version two"},
            headers=OPERATOR,
        )
        assert published.status_code == 201, published.text
        assert published.json()["version"] == 2
        await listening(first, first_agent)
        await says(first, "Which version are you?", tmp_path)
        await hears(first, first_agent, "This call runs version one.")

        # The next plain call, while the first is still on, runs the new version.
        spawned, second, second_agent = await call(http, platform, agent)
        assert spawned["version"] == 2
        await hears(second, second_agent, GREETING.format("two"))
        assert await session_version(db, second_agent) == 2
        assert await session_version(db, first_agent) == 1
        assert not any(
            GREETING.format("two") in text
            for text in first.read(TRANSCRIPTION, first_agent.identity)
        )
        await hung_up(db, first, first_agent)
        await hung_up(db, second, second_agent)

        # A rollback takes effect on the next call.
        rolled = await http.post(
            f"{platform.api}/api/agents/{agent.id}/rollback",
            json={"version": 1},
            headers=OPERATOR,
        )
        assert rolled.status_code == 200 and rolled.json()["published_version"] == 1
        spawned, third, third_agent = await call(http, platform, agent)
        assert spawned["version"] == 1
        await hears(third, third_agent, GREETING.format("one"))
        assert await session_version(db, third_agent) == 1
        await hung_up(db, third, third_agent)
    finally:
        await db.close()
