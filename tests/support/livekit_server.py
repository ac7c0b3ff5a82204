"""The real LiveKit server in tests: one `livekit-server` on free loopback ports, with a
generated key and secret and webhooks to a URL the test chooses (see voxiectl.livekit_local).

`scripts/test` installs the pinned binary first; if none can be found or built, the fixture
fails with the install script's message (it never skips: a suite that silently left out the
real-server tests would pass for the wrong reason).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from livekit import api

from voxiectl.livekit_local import Credentials, LiveKitServer, ServerConfig, find_binary, install


def binary() -> Path:
    return find_binary() or install()


@contextlib.contextmanager
def livekit_server(
    directory: Path,
    *,
    webhook_urls: Sequence[str] = (),
    log_level: str = "info",
    credentials: Credentials | None = None,
    redis_address: str | None = None,
) -> Iterator[LiveKitServer]:
    """One node; the nodes of a multi-node server share `credentials` and `redis_address`."""
    config = ServerConfig.on_free_ports(
        credentials or Credentials.generate(),
        webhook_urls=tuple(webhook_urls),
        log_level=log_level,
        redis_address=redis_address,
    )
    server = LiveKitServer(config, directory, binary=binary())
    with server:
        yield server


def api_client(server: LiveKitServer) -> api.LiveKitAPI:
    credentials = server.config.credentials
    return api.LiveKitAPI(
        server.url.replace("ws://", "http://"), credentials.api_key, credentials.api_secret
    )


def join_token(server: LiveKitServer, room: str, identity: str) -> str:
    credentials = server.config.credentials
    return (
        api.AccessToken(credentials.api_key, credentials.api_secret)
        .with_identity(identity)
        .with_grants(api.VideoGrants(room_join=True, room=room, can_update_own_metadata=True))
        .to_jwt()
    )
