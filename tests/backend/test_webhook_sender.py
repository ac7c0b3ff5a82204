"""The event webhook sender against a real receiver on loopback (allowlisted by
TOOL_HTTP_ALLOWLIST for the operator's endpoints) and the real Postgres (issue 24): signed
deliveries that verify, the same event id on a retry, a hanging receiver cut at the deadline and
tried again, a 400 never retried, the outbox delivered by a backend started after the event was
written, and two backends sending each event once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.app import create_app
from backend.metrics import Metrics
from backend.webhook_sender import WebhookSender
from shared.addresses import system_resolver
from shared.contracts import EndReason
from shared.contracts.dispatch import OPERATOR_OWNER_ID
from shared.secret_box import new_key
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.backend.conftest import OPERATOR, backend_settings, serving
from tests.backend.test_event_webhooks import start_call
from tests.support.livekit import LiveKitDouble
from tests.support.serving import ThreadedServer

KEY = new_key()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next of `answers` (then 200): a status, or "hang"."""

    answers: list[int | str | tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    # Set from the receiver's thread at each request: the test's loop waits on it.
    arrived: threading.Event = field(default_factory=threading.Event)

    async def hook(self, request: Request) -> Response:
        self.received.append(Received(dict(request.headers), await request.body()))
        self.arrived.set()
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "hang":
            await asyncio.sleep(3600)
        status, headers = answer if isinstance(answer, tuple) else (int(answer), {})
        return Response(f"answer {status}", status_code=status, headers=headers)

    async def until(self, count: int) -> None:
        """Until `count` requests arrived (within 30 s)."""
        async with asyncio.timeout(30):
            while len(self.received) < count:
                self.arrived.clear()
                if len(self.received) < count:
                    await asyncio.to_thread(self.arrived.wait, 1)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()
    server = ThreadedServer(
        Starlette(routes=[Route("/hook", state.hook, methods=["POST"])]), name="receiver"
    )
    url = server.start()
    yield state, f"{url}/hook"
    server.stop()


@pytest.fixture
def settings(livekit: LiveKitDouble, database_url: str) -> Settings:
    return backend_settings(
        livekit,
        database_url,
        secrets_keys=[KEY],
        tool_http_allowlist=["127.0.0.1"],
        webhook_timeout_s=1,
        webhook_retry_base_s=0,  # a failed delivery is due again at once
        webhook_interval_s=0.2,
    )


async def resolve(host: str, port: int) -> list[str]:
    """receiver.example is a public name to the API (where the sender may find otherwise)."""
    return ["93.184.215.14"] if host == "receiver.example" else await system_resolver(host, port)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(settings, reconcile=False, resolve=resolve)) as client:
        yield client


@pytest.fixture
async def sender(settings: Settings, store: PostgresStore) -> AsyncIterator[WebhookSender]:
    async with httpx.AsyncClient() as client:
        made = WebhookSender(settings, store, client, Metrics())
        yield made
        await made.release()


@dataclass
class Hooks:
    """The API (as the operator, whose TOOL_HTTP_ALLOWLIST exempts loopback), the store, a
    sender the test drives, and the receiver at `url`."""

    api: httpx.AsyncClient
    store: PostgresStore
    sender: WebhookSender
    got: Receiver
    url: str

    async def add(self, events: list[str] | None = None, url: str | None = None) -> Any:
        created = await self.api.post(
            "/api/webhooks",
            json={"url": url or self.url, "events": events or ["call.started", "call.ended"]},
            headers=OPERATOR,
        )
        assert created.status_code == 201, created.text
        return created.json()

    async def call(self) -> UUID:
        return await start_call(self.store, OPERATOR_OWNER_ID)

    async def deliveries(self, endpoint: Any) -> list[Any]:
        path = f"/api/webhooks/{endpoint['id']}/deliveries"
        answer = await self.api.get(path, headers=OPERATOR)
        assert answer.status_code == 200, answer.text
        items: list[Any] = answer.json()["items"]
        return items


@pytest.fixture
def hooks(
    api: httpx.AsyncClient,
    store: PostgresStore,
    sender: WebhookSender,
    receiver: tuple[Receiver, str],
) -> Hooks:
    return Hooks(api, store, sender, *receiver)


def verifies(secret: str, received: Received) -> bool:
    """The README's verification, written out as a receiver would."""
    parts = dict(p.split("=", 1) for p in received.headers["voxie-signature"].split(","))
    signed = f"{parts['t']}.".encode() + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


async def test_a_calls_start_and_end_arrive_signed_and_verify(
    hooks: Hooks,
) -> None:
    got = hooks.got
    endpoint = await hooks.add()
    session = await hooks.call()
    await hooks.store.finish_session(session, end_reason=EndReason.GRACE_EXPIRED)
    await hooks.sender.try_send()

    assert sorted(r.event["type"] for r in got.received) == ["call.ended", "call.started"]
    for received in got.received:
        assert verifies(endpoint["secret"], received)
        assert not verifies(endpoint["secret"] + "x", received)
        assert set(received.event) == {"id", "type", "created_at", "data"}
        assert received.event["data"]["id"] == str(session)
        assert received.headers["content-type"] == "application/json"
    ended = next(r.event for r in got.received if r.event["type"] == "call.ended")
    assert (ended["data"]["status"], ended["data"]["end_reason"]) == ("ended", "grace_expired")
    assert {d["status"] for d in await hooks.deliveries(endpoint)} == {"delivered"}


async def test_a_500_then_200_delivers_twice_with_the_same_id(
    hooks: Hooks,
) -> None:
    got = hooks.got
    got.answers = [500, 200]
    endpoint = await hooks.add(["call.started"])
    await hooks.call()

    await hooks.sender.try_send()
    [delivery] = await hooks.deliveries(endpoint)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "pending",
        1,
        500,
    )
    assert delivery["next_retry_at"] is not None and "HTTP 500" in delivery["last_error"]
    await hooks.sender.try_send()

    first, second = got.received
    assert first.event["id"] == second.event["id"] == delivery["event_id"]
    assert first.body == second.body  # the same event, byte for byte; only the signature moves
    assert verifies(endpoint["secret"], first) and verifies(endpoint["secret"], second)
    [delivered] = await hooks.deliveries(endpoint)
    assert (delivered["status"], delivered["attempts"], delivered["last_status_code"]) == (
        "delivered",
        2,
        200,
    )


async def test_a_hanging_receiver_is_cut_at_the_deadline_and_tried_again(
    hooks: Hooks,
) -> None:
    got = hooks.got
    got.answers = ["hang"]
    endpoint = await hooks.add(["call.started"])
    await hooks.call()

    await hooks.sender.try_send()  # returns: the attempt was cut, not waited out
    [delivery] = await hooks.deliveries(endpoint)
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["last_error"] == "no answer within 1 s"
    await hooks.sender.try_send()
    assert len(got.received) == 2
    assert (await hooks.deliveries(endpoint))[0]["status"] == "delivered"


@pytest.mark.parametrize("status", [400, 410, 302])
async def test_a_4xx_or_a_redirect_is_never_retried(
    hooks: Hooks,
    status: int,
) -> None:
    got = hooks.got
    got.answers = [status]
    endpoint = await hooks.add(["call.started"])
    await hooks.call()

    await hooks.sender.try_send()
    await hooks.sender.try_send()
    assert len(got.received) == 1
    [delivery] = await hooks.deliveries(endpoint)
    assert (delivery["status"], delivery["last_status_code"]) == ("failed", status)
    assert delivery["next_retry_at"] is None

    # The owner fixed their receiver and sends it again: the same event.
    path = f"/api/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/resend"
    resent = await hooks.api.post(path, headers=OPERATOR)
    assert resent.status_code == 202, resent.text
    assert resent.json()["status"] == "pending"
    await hooks.sender.try_send()
    first, second = got.received
    assert first.event["id"] == second.event["id"] == delivery["event_id"]
    assert (await hooks.deliveries(endpoint))[0]["status"] == "delivered"


async def test_a_429_is_retried_after_its_retry_after(
    hooks: Hooks,
) -> None:
    got = hooks.got
    got.answers = [(429, {"Retry-After": "3600"})]
    endpoint = await hooks.add(["call.started"])
    await hooks.call()

    await hooks.sender.try_send()
    await hooks.sender.try_send()  # not due: the receiver asked for an hour
    assert len(got.received) == 1
    [delivery] = await hooks.deliveries(endpoint)
    assert (delivery["status"], delivery["last_status_code"]) == ("pending", 429)
    waited = datetime.fromisoformat(delivery["next_retry_at"]) - datetime.now(UTC)
    assert waited > timedelta(minutes=50)


async def test_an_address_that_turned_internal_is_refused_at_send(
    hooks: Hooks,
    settings: Settings,
) -> None:
    got = hooks.got
    endpoint = await hooks.add(url=hooks.url.replace("127.0.0.1", "receiver.example"))
    await hooks.call()

    async def internal(host: str, port: int) -> list[str]:
        return ["127.0.0.2"]  # loopback, and not allowlisted

    async with httpx.AsyncClient() as client:
        sender = WebhookSender(settings, hooks.store, client, Metrics(), resolve=internal)
        await sender.try_send()
        await sender.release()
    assert got.received == []
    [delivery] = await hooks.deliveries(endpoint)
    assert delivery["status"] == "failed" and "internal address" in delivery["last_error"]


async def test_the_outbox_is_delivered_by_a_backend_started_after_the_event(
    hooks: Hooks,
    settings: Settings,
) -> None:
    got = hooks.got
    endpoint = await hooks.add(["call.started"])
    session = await hooks.call()  # written with the call; no sender runs yet
    assert got.received == []

    async with serving(create_app(settings)):  # a backend (re)started: its sender loop runs
        await got.until(1)
    [received] = got.received
    assert received.event["data"]["id"] == str(session) and verifies(endpoint["secret"], received)


async def test_two_backends_send_each_event_once(
    hooks: Hooks,
    settings: Settings,
) -> None:
    got = hooks.got
    endpoint = await hooks.add(["call.started"])
    async with serving(create_app(settings)), serving(create_app(settings)):
        sessions = [await hooks.call() for _ in range(6)]
        await got.until(len(sessions))
        # Both senders keep running a while longer: a second send would come now.
        await asyncio.sleep(1)
    assert {d["status"] for d in await hooks.deliveries(endpoint)} == {"delivered"}
    ids = [r.event["id"] for r in got.received]
    assert len(ids) == len(set(ids)) == len(sessions)
    assert {r.event["data"]["id"] for r in got.received} == {str(s) for s in sessions}
