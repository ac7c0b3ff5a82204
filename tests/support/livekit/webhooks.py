"""Webhooks as livekit-server sends them, and a sink that receives them in tests.

The server (livekit/protocol webhook package) POSTs each event, in order per URL, as protojson
(lowerCamelCase names, unset fields left out, 64-bit integers as strings) with
`Content-Type: application/webhook+json` and `Authorization: <jwt>` — no `Bearer` — where the
JWT is signed with the API secret, `iss` is the API key, it is valid for five minutes and its
`sha256` claim is the base64 SHA-256 of the body. `livekit.api.WebhookReceiver` verifies that.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import aiohttp
from google.protobuf.json_format import MessageToDict
from livekit import api
from livekit.protocol import models, webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.livekit.rooms import Clock, new_id
from tests.support.serving import ThreadedServer

logger = logging.getLogger(__name__)

WEBHOOK_CONTENT_TYPE: Final = "application/webhook+json"
WEBHOOK_TOKEN_TTL: Final = datetime.timedelta(minutes=5)
_ATTEMPTS: Final = 3
_RETRY_DELAY_S: Final = 0.2


def encode_event(event: webhook.WebhookEvent) -> str:
    return json.dumps(MessageToDict(event), separators=(",", ":"))


def sign_body(body: str, api_key: str, api_secret: str) -> str:
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return (
        api.AccessToken(api_key, api_secret)
        .with_ttl(WEBHOOK_TOKEN_TTL)
        .with_sha256(digest)
        .to_jwt()
    )


def signed_headers(body: str, api_key: str, api_secret: str) -> dict[str, str]:
    """The headers livekit-server sends `body` with."""
    return {
        "Content-Type": WEBHOOK_CONTENT_TYPE,
        "Authorization": sign_body(body, api_key, api_secret),
    }


class WebhookNotifier:
    """Queues events and delivers them to every configured URL, in order, with retries."""

    def __init__(self, api_key: str, api_secret: str, clock: Clock) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self._clock = clock
        self.urls: list[str] = []
        self._queue: asyncio.Queue[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self._task = asyncio.create_task(self._deliver_forever(), name="webhook-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self._task = self._session = self._queue = None

    def notify(
        self,
        event: str,
        room: models.Room,
        participant: models.ParticipantInfo | None = None,
    ) -> None:
        if self._queue is None or not self.urls:
            return
        message = webhook.WebhookEvent(
            event=event, id=new_id("EV_"), created_at=int(self._clock.now())
        )
        message.room.CopyFrom(room)
        if participant is not None:
            message.participant.CopyFrom(participant)
        self._queue.put_nowait(encode_event(message))

    async def drain(self) -> None:
        """Wait until everything queued so far has been delivered (or given up on)."""
        if self._queue is not None:
            await self._queue.join()

    async def _deliver_forever(self) -> None:
        assert self._queue is not None
        while True:
            body = await self._queue.get()
            try:
                for url in list(self.urls):
                    await self._deliver(url, body)
            finally:
                self._queue.task_done()

    async def _deliver(self, url: str, body: str) -> None:
        assert self._session is not None
        event = json.loads(body)["event"]
        for attempt in range(_ATTEMPTS):
            headers = signed_headers(body, self._api_key, self._api_secret)
            try:
                async with self._session.post(url, data=body.encode(), headers=headers) as resp:
                    if resp.status < 500:
                        return
                    problem = f"status {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = repr(exc)
            await asyncio.sleep(_RETRY_DELAY_S * 2**attempt)
        logger.warning(
            "webhook not delivered", extra={"url": url, "event": event, "error": problem}
        )


@dataclass(frozen=True)
class ReceivedWebhook:
    """A raw request as the sink got it: what an application's webhook endpoint sees."""

    body: str
    authorization: str
    content_type: str

    @property
    def event(self) -> str:
        name: str = json.loads(self.body).get("event", "")
        return name


@dataclass
class WebhookSink:
    """An HTTP endpoint that records every webhook POSTed to it; `url` is where to send them."""

    status: int = 200
    received: list[ReceivedWebhook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/webhook", self._receive, methods=["POST"])])
        self._server = ThreadedServer(app, name="webhook-sink")

    @property
    def url(self) -> str:
        return self._server.url + "/webhook"

    def start(self) -> WebhookSink:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _receive(self, request: Request) -> Response:
        body = (await request.body()).decode()
        hook = ReceivedWebhook(
            body=body,
            authorization=request.headers.get("authorization", ""),
            content_type=request.headers.get("content-type", ""),
        )
        with self._lock:
            self.received.append(hook)
        return Response(status_code=self.status)

    def events(self) -> list[str]:
        with self._lock:
            return [hook.event for hook in self.received]

    async def wait_for(
        self,
        match: Callable[[ReceivedWebhook], bool] | str,
        *,
        within: float = 10.0,
    ) -> ReceivedWebhook:
        """The first received webhook matching (an event name, or a predicate)."""

        def matches(hook: ReceivedWebhook) -> bool:
            return hook.event == match if isinstance(match, str) else match(hook)

        deadline = time.monotonic() + within
        while True:
            with self._lock:
                found = next((hook for hook in self.received if matches(hook)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"no webhook matched {match!r}; got {self.events()}")
            await asyncio.sleep(0.02)
