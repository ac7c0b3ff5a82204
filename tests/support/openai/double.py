"""`OpenAIDouble`: the HTTP/websocket front, the script, and the tests' handle on what it got."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.support.openai import rest
from tests.support.openai.realtime import RealtimeConnection
from tests.support.openai.records import (
    ChatRecord,
    RealtimeRecord,
    SpeechRecord,
    TranscriptionRecord,
)
from tests.support.openai.script import ApiError, Asked, Responder, Turn, as_turn
from tests.support.serving import ThreadedServer

INVALID_KEY = ApiError(
    "invalid_api_key", "Incorrect API key provided.", "invalid_request_error", 401
)
# Said when a response is asked for past the end of the script (and counted as an overrun).
UNSCRIPTED = "I have nothing scripted to say."
UNHEARD = "(nothing scripted was heard)"


class OpenAIDouble:
    """OpenAI's realtime and REST APIs on 127.0.0.1 for tests: point `base_url` at it.

    Start it from a (sync) fixture or `with OpenAIDouble() as double:`; the real plugin classes
    connect unchanged. `api_key` set: other keys are refused as OpenAI refuses them (401).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        audio_pace: float = 0.0,
        vad_threshold: float = 500.0,
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        # Seconds of wall time per second of audio sent (0: as fast as the socket takes it).
        self.audio_pace = audio_pace
        self.vad_threshold = vad_threshold
        self._turns: deque[Turn] = deque()
        self._heard: deque[str] = deque()
        self.responder: Responder | None = None
        self.speech_fault: Turn | None = None
        self.refusing: ApiError | None = None
        self.overruns: list[Asked] = []
        self.unheard = 0
        self.realtime: list[RealtimeRecord] = []
        self.chats: list[ChatRecord] = []
        self.transcriptions: list[TranscriptionRecord] = []
        self.speeches: list[SpeechRecord] = []
        self._connections: list[RealtimeConnection] = []
        self._http = ThreadedServer(self._app(), name="openai-double", websockets=True, port=port)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        return self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> OpenAIDouble:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL (or a plugin's `base_url`) is set to."""
        return f"{self.url}/v1"

    def settings(self) -> dict[str, str]:
        """Settings values that point every model here (for `make_settings(**…)`)."""
        return {"openai_api_key": self.api_key or "EMPTY", "openai_base_url": self.base_url}

    def env(self) -> dict[str, str]:
        """The same as environment variables, for worker processes."""
        return {name.upper(): value for name, value in self.settings().items()}

    # --- the script --------------------------------------------------------------------------

    def script(self, *turns: Turn | str) -> None:
        """Queues model responses (realtime responses and chat completions, in order)."""
        self._turns.extend(as_turn(t) for t in turns)

    def hear(self, *lines: str) -> None:
        """Queues what the human says, for input transcriptions and the STT, in order."""
        self._heard.extend(lines)

    def next_turn(self, asked: Asked) -> Turn:
        if self._turns:
            return self._turns.popleft()
        if self.responder is not None:
            return as_turn(self.responder(asked))
        self.overruns.append(asked)
        return Turn(say=UNSCRIPTED)

    def next_transcript(self) -> str:
        if self._heard:
            return self._heard.popleft()
        self.unheard += 1
        return UNHEARD

    def assert_consumed(self) -> None:
        assert not self._turns, f"{len(self._turns)} scripted turns never asked for"
        assert not self._heard, f"{len(self._heard)} scripted lines never heard"
        assert not self.overruns, f"asked past the script: {self.overruns}"
        assert not self.unheard, f"{self.unheard} user turns heard past the script"

    # --- faults ------------------------------------------------------------------------------

    def refuse(self, error: ApiError | None = INVALID_KEY) -> None:
        """From now on refuse every request and websocket handshake (None: accept again)."""
        self.refusing = error

    async def drop_connections(self) -> None:
        """Cut every open realtime websocket now (close code 1011)."""

        async def cut() -> None:
            for connection in list(self._connections):
                if not connection.record.closed:
                    connection.record.dropped = True
                    await connection.ws.close(code=1011)

        await self._http.call(cut())

    # --- waiting -----------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[], Any], *, within: float = 10.0, what: str = "condition"
    ) -> Any:
        """Polls `predicate` until it returns something truthy, and returns that (a deadline,
        not a timing)."""
        deadline = time.monotonic() + within
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the OpenAI double never saw: {what}")
            await asyncio.sleep(0.02)
        return result

    # --- serving -----------------------------------------------------------------------------

    def _authorized(self, authorization: str | None) -> ApiError | None:
        if self.refusing is not None:
            return self.refusing
        if not authorization or not authorization.startswith("Bearer ") or not authorization[7:]:
            return ApiError(
                "missing_api_key", "You didn't provide an API key.", "invalid_request_error", 401
            )
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return INVALID_KEY
        return None

    def _app(self) -> Starlette:
        def rest_route(
            path: str, handler: Callable[[Request, OpenAIDouble], Any], method: str
        ) -> list[Route]:
            async def endpoint(request: Request) -> Response:
                if refused := self._authorized(request.headers.get("authorization")):
                    return rest.error_response(refused)
                response: Response = await handler(request, self)
                return response

            return [Route(p + path, endpoint, methods=[method]) for p in ("/v1", "")]

        async def realtime(websocket: WebSocket) -> None:
            if refused := self._authorized(websocket.headers.get("authorization")):
                await websocket.send_denial_response(
                    JSONResponse({"error": refused.body()}, status_code=refused.status)
                )
                return
            intent = websocket.query_params.get("intent")
            record = RealtimeRecord(
                path=websocket.url.path,
                model=websocket.query_params.get("model"),
                intent=intent,
                authorization=websocket.headers.get("authorization"),
            )
            if intent != "transcription" and not record.model:
                await websocket.send_denial_response(
                    rest.bad_request("Missing required parameter: 'model'.", "model")
                )
                return
            self.realtime.append(record)
            await websocket.accept()
            connection = RealtimeConnection(websocket, self, record)
            self._connections.append(connection)
            await connection.run()

        async def models(_: Request) -> Response:
            return JSONResponse({"object": "list", "data": []})

        routes: list[Route | WebSocketRoute] = [
            *rest_route("/chat/completions", rest.chat_completions, "POST"),
            *rest_route("/audio/transcriptions", rest.transcriptions, "POST"),
            *rest_route("/audio/speech", rest.speech, "POST"),
            *(WebSocketRoute(p + "/realtime", realtime) for p in ("/v1", "")),
            *(Route(p, models) for p in ("/v1/models", "/v1/", "/")),
        ]
        return Starlette(routes=routes)

    def conversations(self) -> list[RealtimeRecord]:
        """The realtime conversations (not the STT's transcription sessions), oldest first."""
        return [r for r in self.realtime if r.intent != "transcription"]

    def last(
        self, kind: Literal["conversation", "transcription"] = "conversation"
    ) -> RealtimeRecord:
        matching = [
            r for r in self.realtime if (r.intent == "transcription") == (kind == "transcription")
        ]
        assert matching, f"no realtime {kind} reached the double"
        return matching[-1]
