"""Event webhooks on real processes (issue 24): two `python -m backend` replicas, a spawner and
the real livekit-server. An owner drives the platform with an API key alone: creates an agent,
subscribes a receiver (on loopback, exempted by the operator for that owner), starts a real call;
the call's start arrives signed (the receiver's first answer is a 500, so it arrives again with
the same event id), and its end — written by the spawner while no backend runs at all — is sent
once a backend is started again (the outbox). Each delivery verifies with the endpoint's secret,
and the receiver got exactly the attempts the delivery log counts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from livekit import api
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.contracts.lifecycle import PREFIX
from shared.secret_box import new_key
from tests.backend.conftest import user_token
from tests.backend.test_agents import NEW_AGENT
from tests.e2e.support import eventually, healthy, registered
from tests.support.human import Human
from tests.support.livekit_server import api_client
from tests.support.platform import OPERATOR, Platform
from tests.support.serving import ThreadedServer
from voxiectl.livekit_local import LiveKitServer, free_port

pytestmark = pytest.mark.timeout(300)

JWT_SECRET = "e2e-event-webhooks-jwt-secret-with-32-chars+"
ALICE = UUID("a11ce000-0000-4000-8000-0000000000c3")
STATE = f"{PREFIX}state"


class Receiver:
    """Records every POST; answers 500 to the first, 200 to the rest."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def hook(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        return Response(status_code=500 if len(self.received) == 1 else 200)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in (json.loads(body) for _, body in self.received) if e["type"] == kind]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()
    server = ThreadedServer(
        Starlette(routes=[Route("/hook", state.hook, methods=["POST"])]), name="receiver"
    )
    url = server.start()
    yield state, f"{url}/hook"
    server.stop()


def verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The README's check, as a receiver writes it."""
    parts = dict(p.split("=", 1) for p in headers["voxie-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


async def test_a_real_calls_start_and_end_arrive_signed_retried_and_from_the_outbox(
    platform: Platform,
    http: httpx.AsyncClient,
    lk: LiveKitServer,
    receiver: tuple[Receiver, str],
) -> None:
    got, url = receiver
    env = {
        "API_KEY_HASH_KEYS": f'["{new_key()}"]',
        "SECRETS_KEYS": f'["{new_key()}"]',
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "WEBHOOK_INTERVAL_S": "0.2",
        "WEBHOOK_RETRY_BASE_S": "0",  # the 500 is retried at once
    }
    port_b = free_port()
    a, b = platform.api, f"http://127.0.0.1:{port_b}"
    backend_a = platform.backend("backend-a", **env)
    backend_b = platform.backend("backend-b", BACKEND_PORT=str(port_b), **env)
    spawner = platform.spawner()
    await healthy(http, a, backend_a)
    await healthy(http, b, backend_b)
    await registered(spawner)

    # The operator exempts loopback for this owner alone (a user's webhook may not reach an
    # internal address otherwise).
    exempt = await http.put(
        f"{a}/api/owners/{ALICE}/egress", json={"allow": ["127.0.0.1"]}, headers=OPERATOR
    )
    assert exempt.status_code == 200, exempt.text
    signed_in = {"Authorization": f"Bearer {user_token(ALICE, secret=JWT_SECRET)}"}
    minted = await http.post(f"{a}/api/keys", json={"name": "crm"}, headers=signed_in)
    assert minted.status_code == 201, minted.text
    key = {"Authorization": f"Bearer {minted.json()['key']}"}

    # From here on, the owner's server: the API key only.
    agent = await http.post(f"{b}/api/agents", json=NEW_AGENT, headers=key)
    assert agent.status_code == 201, agent.text
    hook = await http.post(
        f"{a}/api/webhooks",
        json={"url": url, "events": ["call.started", "call.ended"]},
        headers=key,
    )
    assert hook.status_code == 201, hook.text
    secret, hook_id = hook.json()["secret"], hook.json()["id"]
    call = await http.post(f"{b}/api/agents/{agent.json()['id']}/spawn", headers=key)
    assert call.status_code == 201, call.text
    room = call.json()["room_name"]
    human = await Human.join(call.json()["livekit_url"], call.json()["token"], listen=False)
    try:
        await human.agent_attribute(STATE, "active", within=60)
        tries = await eventually(
            lambda: got.events("call.started") if len(got.events("call.started")) >= 2 else None,
            what="call.started, refused once and sent again",
        )
        started = tries[-1]
        # Both backends down; the call ends meanwhile (its record is the spawner's write).
        backend_a.kill()
        backend_b.kill()
        lkapi: api.LiveKitAPI = api_client(lk)
        try:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
        finally:
            await lkapi.aclose()
    finally:
        await human.leave()

    assert not got.events("call.ended")
    restarted = platform.backend("backend-c", **env)
    await healthy(http, a, restarted)
    [ended] = await eventually(lambda: got.events("call.ended"), what="call.ended, from the outbox")

    first, second = got.events("call.started")
    assert first["id"] == second["id"] == started["id"]  # one event, tried twice
    assert started["data"]["room_name"] == ended["data"]["room_name"] == room
    assert started["data"]["id"] == ended["data"]["id"]  # the same call
    assert ended["data"]["status"] != "active"
    for headers, body in got.received:
        assert verifies(secret, headers, body), headers
        assert not verifies(secret + "x", headers, body)

    log = await http.get(f"{a}/api/webhooks/{hook_id}/deliveries", headers=key)
    assert log.status_code == 200, log.text
    attempts = {d["event_type"]: (d["status"], d["attempts"]) for d in log.json()["items"]}
    assert attempts == {"call.started": ("delivered", 2), "call.ended": ("delivered", 1)}
    # Two replicas sent, yet the receiver got only the attempts the log counts.
    assert len(got.received) == 3
