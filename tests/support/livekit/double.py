"""`LiveKitDouble`: the HTTP/websocket front of the emulated server, and the tests' handle on it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Final, TypeVar

from livekit import api
from livekit.protocol import models
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.support.livekit import twirp
from tests.support.livekit.rooms import STANDARD, Kind
from tests.support.livekit.server import AuthError, JobView, RoomConfig, Server
from tests.support.livekit.workers import WorkerView, serve_worker
from tests.support.serving import ThreadedServer

T = TypeVar("T")

_NO_SFU: Final = (
    "The LiveKit test double has no SFU: WebRTC signalling (/rtc) is not emulated, so a job "
    "cannot connect to its room. Tests make participants join with LiveKitDouble.join()."
)
_POLL_S: Final = 0.02


class LiveKitDouble:
    """A LiveKit server on 127.0.0.1 for tests: the real livekit-api client and real
    livekit-agents workers talk to `url` unchanged. Start it from a (sync) fixture; drive it
    from async tests with the awaitable methods below.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        webhook_urls: list[str] | None = None,
        seed: int | None = None,
        assign_timeout: float | None = None,
        port: int = 0,
    ) -> None:
        self.api_key = api_key or "API" + secrets.token_hex(6)
        self.api_secret = api_secret or secrets.token_urlsafe(32)
        self._server = Server(
            self.api_key, self.api_secret, seed=seed, assign_timeout=assign_timeout
        )
        self._server.notifier.urls.extend(webhook_urls or [])
        self._http = ThreadedServer(self._app(), name="livekit-double", websockets=True, port=port)

    # --- serving -----------------------------------------------------------------------------

    def _app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            await self._server.start()
            try:
                yield
            finally:
                await self._server.stop()

        async def health(_: Request) -> Response:
            return PlainTextResponse("OK")

        async def twirp_call(request: Request) -> Response:
            return await twirp.handle(self._server, request)

        async def refuse_rtc(_: Request) -> Response:
            return PlainTextResponse(_NO_SFU, 501)

        async def refuse_rtc_socket(websocket: WebSocket) -> None:
            await websocket.send_denial_response(PlainTextResponse(_NO_SFU, 501))

        rtc_paths = ("/rtc", "/rtc/validate", "/rtc/v1", "/rtc/v1/validate")
        return Starlette(
            routes=[
                Route("/", health),
                Route("/twirp/{service}/{method}", twirp_call, methods=["POST"]),
                WebSocketRoute("/agent", self._agent_socket),
                *(Route(path, refuse_rtc) for path in rtc_paths),
                *(WebSocketRoute(path, refuse_rtc_socket) for path in rtc_paths),
            ],
            lifespan=lifespan,
        )

    async def _agent_socket(self, websocket: WebSocket) -> None:
        server = self._server
        if server.outage:
            await websocket.send_denial_response(PlainTextResponse("unavailable", 503))
            return
        try:
            token = twirp.bearer_token(websocket)
            claims = server.verify(token) if token else None
        except AuthError as exc:
            await websocket.send_denial_response(PlainTextResponse(str(exc), 401))
            return
        if claims is None or claims.video is None or not claims.video.agent:
            await websocket.send_denial_response(PlainTextResponse("permissions denied", 401))
            return
        await websocket.accept()
        await serve_worker(
            websocket,
            server.pool,
            server,
            api_key=server.api_key,
            api_secret=server.api_secret,
            clock=server.clock,
            server_info=server.server_info,
        )

    def start(self) -> LiveKitDouble:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> LiveKitDouble:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The HTTP URL (what `LIVEKIT_URL` may be; the clients switch ws/http themselves)."""
        return self._http.url

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    def env(self) -> dict[str, str]:
        """The variables a worker subprocess needs to reach this server."""
        return {
            "LIVEKIT_URL": self.ws_url,
            "LIVEKIT_API_KEY": self.api_key,
            "LIVEKIT_API_SECRET": self.api_secret,
        }

    def api(self) -> api.LiveKitAPI:
        """A real livekit-api client for this server (close it: `async with`)."""
        return api.LiveKitAPI(self.url, self.api_key, self.api_secret)

    def token(self, identity: str, room: str, *, ttl_s: int = 600) -> str:
        """A join token for `identity` in `room`, as an application would mint it."""
        return (
            api.AccessToken(self.api_key, self.api_secret)
            .with_identity(identity)
            .with_grants(api.VideoGrants(room_join=True, room=room))
            .with_ttl(datetime.timedelta(seconds=ttl_s))
            .to_jwt()
        )

    async def _run(self, operation: Callable[[Server], T]) -> T:
        async def on_server_loop() -> T:
            return operation(self._server)

        return await self._http.call(on_server_loop())

    # --- participants ------------------------------------------------------------------------

    async def join(
        self,
        room: str,
        identity: str,
        *,
        name: str = "",
        kind: Kind = STANDARD,
        metadata: str = "",
        attributes: dict[str, str] | None = None,
    ) -> models.ParticipantInfo:
        """`identity` connects to `room` (created if absent, as the real server auto-creates)."""
        participant = await self._run(
            lambda s: s.join(
                room, identity, name=name, kind=kind, metadata=metadata, attributes=attributes
            )
        )
        return participant.to_proto()

    async def join_with_token(self, token: str) -> models.ParticipantInfo:
        """Connect the way a browser would with `token`: refused unless it grants the room."""
        participant = await self._run(lambda s: s.join_with_token(token))
        return participant.to_proto()

    async def leave(self, room: str, identity: str) -> None:
        await self._run(lambda s: s.leave(room, identity))

    # --- time, jobs, workers, webhooks -------------------------------------------------------

    async def advance(self, seconds: float) -> None:
        """Move the server's clock forward and apply the room timeouts that fall due."""

        def move(server: Server) -> None:
            server.clock.advance(seconds)
            server.sweep()

        await self._run(move)

    async def settle(self) -> None:
        """Wait until job offers and webhook deliveries started so far are done.

        An offer waits for the worker's answer (up to `assign_timeout`), and a deleted
        dispatch's agent is removed after 3 s, so settle only once those are due.
        """
        await self._http.call(self._server.settle())

    async def workers(self, agent_name: str | None = None) -> list[WorkerView]:
        return await self._run(
            lambda s: [w.view() for w in s.pool if agent_name is None or w.agent_name == agent_name]
        )

    async def jobs(self, room: str | None = None) -> list[JobView]:
        return await self._run(lambda s: s.job_views(room))

    async def reseed(self, seed: int) -> None:
        """Restart the load-weighted worker choice from `seed`, whatever ran before."""
        await self._run(lambda s: s.pool.reseed(seed))

    async def data_packets(self, room: str) -> list[tuple[str, bytes]]:
        return await self._run(lambda s: list(s.room(room).data_packets))

    async def add_webhook(self, url: str) -> None:
        await self._run(lambda s: s.notifier.urls.append(url))

    async def create_room(self, name: str, config: RoomConfig | None = None) -> models.Room:
        """Create a room as a participant's first join would (token room config or none)."""
        room = await self._run(lambda s: s.create_room(name, config or RoomConfig()))
        return room.to_proto()

    @contextlib.asynccontextmanager
    async def outage(self) -> AsyncGenerator[None]:
        """While inside: API calls get 503 `unavailable`, workers are cut off and refused."""
        await self._run(lambda s: setattr(s, "outage", True))
        await self._http.call(self._server.disconnect_workers("outage"))
        try:
            yield
        finally:
            await self._run(lambda s: setattr(s, "outage", False))

    async def wait_for(
        self,
        check: Callable[[], object],
        *,
        within: float = 15.0,
        what: str = "condition",
    ) -> None:
        """Poll `check` (a coroutine function or plain callable) until it returns truthy."""
        deadline = time.monotonic() + within
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {within:g} s waiting for {what}")
            await asyncio.sleep(_POLL_S)

    async def wait_for_workers(
        self, count: int, agent_name: str, *, within: float = 30.0
    ) -> list[WorkerView]:
        async def registered() -> bool:
            return len(await self.workers(agent_name)) >= count

        await self.wait_for(registered, within=within, what=f"{count} {agent_name!r} workers")
        return await self.workers(agent_name)
