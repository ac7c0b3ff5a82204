"""Spawn and join on a real LiveKit server (issue 13, flows 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import httpx

from shared.contracts.lifecycle import PREFIX
from shared.store.postgres import PostgresStore
from tests.e2e.support import serving, spawn
from tests.spawner.conftest import new_agent
from tests.support.human import Human, speech_wav
from tests.support.platform import Platform


async def test_spawn_and_join(
    platform: Platform, http: httpx.AsyncClient, store: PostgresStore, tmp_path: Path
) -> None:
    spawner = await serving(platform, http)
    agent = await store.create_agent(new_agent())

    spawned = await spawn(http, platform.api, agent.id)
    human = await Human.join(spawned["livekit_url"], spawned["token"])
    try:
        joined = await human.agent_attribute(f"{PREFIX}state", "active", within=60)
        assert joined.identity.startswith("agent-")
        assert joined.attributes[f"{PREFIX}agent_id"] == str(agent.id)
        assert joined.attributes[f"{PREFIX}deployment"] == "test"
        assert len(human.agents()) == 1
        assert spawner.events("job_accepted", room=spawned["room_name"])
        # The caller speaks; the agent's session listens to that track and publishes its own.
        await human.speak(speech_wav(tmp_path / "caller.wav"))
        await human.until(
            lambda: any(who == joined.identity for who, _ in human.subscribed),
            what="the agent's audio track",
        )
    finally:
        await human.leave()
