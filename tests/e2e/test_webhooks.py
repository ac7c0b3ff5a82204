"""Webhooks from the real server (issue 13, flow 8): `room_finished` and participant events reach
the backend signed by livekit-server and verified there; an unsigned or tampered copy is refused.

This test starts a server of its own (webhooks to the backend and to a sink that keeps the raw
requests), which also shows what a fresh server per module costs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from livekit import api

from shared.contracts import NewCallSession, SessionKind
from shared.naming import agent_room_name
from shared.store.postgres import PostgresStore
from tests.e2e.support import eventually, healthy
from tests.spawner.conftest import new_agent
from tests.support.human import Human
from tests.support.livekit.webhooks import WebhookSink
from tests.support.livekit_server import api_client, join_token, livekit_server
from tests.support.openai import OpenAIDouble
from tests.support.platform import OPERATOR, Platform
from voxiectl.livekit_local import LiveKitServer, free_port


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    running = WebhookSink().start()
    yield running
    running.stop()


@pytest.fixture
def own_platform(
    sink: WebhookSink,
    database_url: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    model: OpenAIDouble,
) -> Iterator[Platform]:
    port = free_port()
    urls = [f"http://127.0.0.1:{port}/api/livekit/webhook", sink.url]
    with livekit_server(tmp_path / "livekit", webhook_urls=urls) as server:
        assert server.started_in_s is not None
        record_property("livekit_server_start_s", round(server.started_in_s, 3))
        running = Platform(server, database_url, tmp_path, port, model.env())
        yield running
        running.stop()


def webhook_count(metrics: str, event: str) -> float:
    found = re.search(rf'voxie_backend_webhooks_total{{event="{event}"}} ([0-9.]+)', metrics)
    return float(found.group(1)) if found else 0.0


async def test_signed_webhooks_are_verified_and_copies_refused(
    own_platform: Platform, sink: WebhookSink, http: httpx.AsyncClient, store: PostgresStore
) -> None:
    lk: LiveKitServer = own_platform.lk
    # No reconciler pass during the test: the room's end must be the webhook's doing.
    backend = own_platform.backend(GC_INTERVAL_S="3600")
    await healthy(http, own_platform.api, backend)
    agent = await store.create_agent(new_agent())
    room = agent_room_name(agent.id)
    async with api_client(lk) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name=room))
        session = await store.start_session(  # a call a worker's job took
            NewCallSession(
                agent_id=agent.id,
                room_name=room,
                kind=SessionKind.TEST,
                deployment="test",
                job_id="AJ_webhooks",
            )
        )
        human = await Human.join(lk.url, join_token(lk, room, "user:webhooks"))
        await human.leave()
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))

    async def finalised() -> bool:
        row = await store.get_session(session.id)
        return row.end_reason is not None

    await eventually(finalised, what="the room_finished webhook to close the session")
    assert (await store.get_session(session.id)).end_reason == "room_closed"
    metrics = (await http.get(f"{own_platform.api}/metrics", headers=OPERATOR)).text
    for event in ("room_started", "participant_joined", "participant_left", "room_finished"):
        assert webhook_count(metrics, event) >= 1, event
    assert webhook_count(metrics, "invalid") == 0

    joined = await sink.wait_for("participant_joined")
    url = f"{own_platform.api}/api/livekit/webhook"
    headers = {"Content-Type": joined.content_type}
    original = await http.post(
        url, content=joined.body, headers={**headers, "Authorization": joined.authorization}
    )
    assert original.status_code == 200, original.text  # the server's own signature verifies
    tampered_body = json.loads(joined.body)
    tampered_body["participant"]["identity"] = "user:mallory"
    tampered = await http.post(
        url,
        content=json.dumps(tampered_body),
        headers={**headers, "Authorization": joined.authorization},
    )
    unsigned = await http.post(url, content=joined.body, headers=headers)
    assert tampered.status_code == 401, tampered.text
    assert unsigned.status_code == 401, unsigned.text
