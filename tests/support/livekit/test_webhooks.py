"""The double's webhooks, received over HTTP and verified by livekit-api's WebhookReceiver."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from livekit import api

from tests.support.livekit import LiveKitDouble, WebhookSink
from tests.support.livekit.webhooks import WEBHOOK_CONTENT_TYPE

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    receiver = WebhookSink().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(livekit: LiveKitDouble) -> api.WebhookReceiver:
    return api.WebhookReceiver(api.TokenVerifier(livekit.api_key, livekit.api_secret))


async def live_a_room(livekit: LiveKitDouble, client: api.LiveKitAPI) -> None:
    await client.room.create_room(api.CreateRoomRequest(name="hooked", metadata="m"))
    await livekit.join("hooked", "caller", name="Ada")
    await livekit.leave("hooked", "caller")
    await client.room.delete_room(api.DeleteRoomRequest(room="hooked"))
    await livekit.settle()


@pytest.fixture
async def delivered(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, sink: WebhookSink
) -> WebhookSink:
    """The sink, after a room's whole life was reported to it."""
    await livekit.add_webhook(sink.url)
    await live_a_room(livekit, livekit_api)
    return sink


async def test_a_rooms_life_arrives_in_order_and_verifies(
    delivered: WebhookSink, receiver: api.WebhookReceiver
) -> None:
    sink = delivered
    assert sink.events() == [
        "room_started",
        "participant_joined",
        "participant_left",
        "room_finished",
    ]
    events = [receiver.receive(hook.body, hook.authorization) for hook in sink.received]
    for hook, event in zip(sink.received, events, strict=True):
        assert hook.content_type == WEBHOOK_CONTENT_TYPE
        assert not hook.authorization.startswith("Bearer")  # the bare JWT, as the server sends
        assert event.id.startswith("EV_") and event.created_at > 0
        assert event.room.name == "hooked" and event.room.metadata == "m"
    joined, left = events[1], events[2]
    assert (joined.participant.identity, joined.participant.name) == ("caller", "Ada")
    assert joined.room.num_participants == 1
    assert left.participant.identity == "caller"
    assert left.room.num_participants == 0
    assert len({e.id for e in events}) == 4


async def test_the_body_is_the_servers_protojson(delivered: WebhookSink) -> None:
    started = json.loads(delivered.received[0].body)
    # lowerCamelCase names, 64-bit integers as strings, unset fields left out.
    assert isinstance(started["createdAt"], str)
    assert isinstance(started["room"]["creationTime"], str)
    assert started["room"]["emptyTimeout"] == 300
    assert "participant" not in started
    assert "numParticipants" not in started["room"]


async def test_a_tampered_body_or_a_foreign_secret_is_refused(
    livekit: LiveKitDouble, delivered: WebhookSink, receiver: api.WebhookReceiver
) -> None:
    hook = delivered.received[0]
    tampered = hook.body.replace('"hooked"', '"other"')
    with pytest.raises(Exception, match="hash mismatch"):
        receiver.receive(tampered, hook.authorization)
    foreign = api.WebhookReceiver(
        api.TokenVerifier(livekit.api_key, "a-different-secret-of-enough-length!!")
    )
    with pytest.raises(Exception, match="Signature"):
        foreign.receive(hook.body, hook.authorization)


async def test_urls_given_at_start_receive_too(sink: WebhookSink) -> None:
    with LiveKitDouble(webhook_urls=[sink.url]) as livekit:
        async with livekit.api() as client:
            await live_a_room(livekit, client)
    assert len(sink.received) == 4


async def test_a_failing_endpoint_is_retried(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    failing = WebhookSink(status=503).start()
    try:
        await livekit.add_webhook(failing.url)
        await livekit_api.room.create_room(api.CreateRoomRequest(name="r"))
        await livekit.settle()
        assert failing.events() == ["room_started"] * 3
    finally:
        failing.stop()
