"""Telling a room why its agent cannot run, when LiveKit accepts the call and never answers."""

from __future__ import annotations

import pytest
from livekit import api, rtc

from shared.contracts.room_messages import SpawnerErrorCode
from shared.room_notice import MESSAGES, tell_room
from tests.support.tcp_proxy import BlackHole


@pytest.mark.timeout(30)
async def test_a_livekit_that_never_answers_does_not_hold_the_ending_job() -> None:
    async with BlackHole() as hole:
        async with api.LiveKitAPI(hole.url, "APIhole", "s" * 32) as livekit:
            # Not connected: the notice goes through the server API, into the hole.
            await tell_room(
                livekit,
                rtc.Room(),
                "agent-00000000-0000-4000-8000-000000000001-abcdefgh",
                SpawnerErrorCode.STORE_UNAVAILABLE,
                None,
                timeout_s=0.5,
            )
        assert hole.accepted == 1


def test_every_code_has_words_and_a_missing_model_says_how_to_fix_it() -> None:
    assert set(MESSAGES) == set(SpawnerErrorCode)
    fix = MESSAGES[SpawnerErrorCode.NO_MODEL_CONFIGURED]
    assert "OPENAI_API_KEY=" in fix and "OPENAI_BASE_URL=" in fix and "try again" in fix
