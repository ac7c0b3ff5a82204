"""The one LiveKitAPI factory, and the deadline policy it documents: credentials from the
settings, and every room operation over its client ending by LIVEKIT_API_TIMEOUT_S."""

from __future__ import annotations

import pytest

from shared.livekit_api import livekit_api
from shared.rooms import LiveKitRooms, LiveKitUnavailable
from shared.settings import ConfigError
from tests.conftest import make_settings
from tests.support.tcp_proxy import BlackHole


async def test_without_credentials_it_names_the_variables() -> None:
    with pytest.raises(ConfigError, match="LIVEKIT_API_KEY and LIVEKIT_API_SECRET"):
        livekit_api(make_settings(livekit_api_key="", livekit_api_secret=""))


# livekit-api alone would wait forever here (it turns the session's timeout off per request):
# the guard ends the test if the deadline is not held.
@pytest.mark.timeout(30)
async def test_a_room_operation_into_a_livekit_that_never_answers_ends_at_the_deadline() -> None:
    async with BlackHole() as hole:
        settings = make_settings(
            livekit_url=hole.url,
            livekit_api_key="APIhole",
            livekit_api_secret="s" * 32,
            livekit_api_timeout_s=0.5,
        )
        async with livekit_api(settings) as client:
            rooms = LiveKitRooms(client, timeout_s=settings.livekit_api_timeout_s)
            with pytest.raises(LiveKitUnavailable, match=r"did not answer within 0\.5 s"):
                await rooms.list_rooms()
        assert hole.accepted >= 1
