"""The one place a `livekit.api.LiveKitAPI` client is built: the backend's (owned by its lifespan),
the doctor's, a worker's probe answer.

Credentials and the deadline policy come from the settings. Each connection gets
LIVEKIT_API_TIMEOUT_S as its aiohttp total (livekit-api otherwise defaults to 10 s, and a client
built with neither would wait as long as that on a server that accepts and never answers). That is
the floor; callers that hold a request budget put the lesser of it and the time left on the whole
call (`shared.rooms.LiveKitRooms`, `shared.deadline`).
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
