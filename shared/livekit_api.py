"""The one place a `livekit.api.LiveKitAPI` client is built: the backend's (owned by its lifespan),
the doctor's, a worker's probe answer.

Credentials and the deadline policy come from the settings. The policy: every call into LiveKit
ends within LIVEKIT_API_TIMEOUT_S, or within what is left of the request's budget if that is less
(`shared.deadline`). livekit-api cannot hold it alone: its Twirp client passes `timeout=None` on
each request, which turns the session's aiohttp timeout off (aiohttp 3.14, `ClientSession`),
so a server that accepts and never answers would be waited on forever. The session still gets
LIVEKIT_API_TIMEOUT_S (for whatever livekit-api sends without that `None`, such as
LiveKit Cloud's region list); the deadline on each whole call is put by the one wrapper every
room operation goes through, `shared.rooms.LiveKitRooms` (a worker's probe answer, two calls,
runs under one `asyncio.timeout` of the same length).
"""

from __future__ import annotations

import aiohttp
from livekit import api

from shared.settings import ConfigError, Settings


def livekit_api(settings: Settings) -> api.LiveKitAPI:
    """A client of LiveKit's server API at LIVEKIT_URL; close it (`aclose()`, or `async with`).
    Build it inside the event loop that uses it (it opens an aiohttp session)."""
    if not settings.livekit_configured:
        # livekit-api's own refusal ("either token, or api_key and api_secret, must be set")
        # names no variable.
        raise ConfigError("LiveKit is not configured: set LIVEKIT_API_KEY and LIVEKIT_API_SECRET")
    return api.LiveKitAPI(
        settings.livekit_url,
        settings.livekit_api_key,
        settings.livekit_api_secret.get_secret_value(),
        timeout=aiohttp.ClientTimeout(total=settings.livekit_api_timeout_s),
    )
