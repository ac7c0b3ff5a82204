"""`POST /api/livekit/webhook`: LiveKit's signed room events.

The signature (a JWT signed with the API secret carrying the body's sha256) is verified with
livekit-api's `WebhookReceiver` before anything is read; anything unsigned or tampered with is
401 and nothing is acted on. `room_finished` finalises the room's still-open session rows
(end_reason `room_closed`) and frees an agent room's slot under MAX_TOTAL_AGENTS; an agent
leaving a room wakes the reconciler; every event is counted.
"""

from __future__ import annotations

from google.protobuf.json_format import ParseError
from livekit import api
from livekit.protocol.webhook import WebhookEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.admission import release_slot
from backend.auth import unauthorized
from backend.http import json_response, read_body, services
from backend.problems import bad_request, unavailable
from backend.services import Services
from shared.contracts import EndReason
from shared.logging import bind_log_context, get_logger
from shared.naming import RoomKind, parse_room_name
from shared.presence import is_agent

log = get_logger(__name__)


async def livekit_webhook(request: Request) -> Response:
    svc = services(request)
    settings = svc.settings
    if not settings.livekit_configured:
        raise unavailable("livekit-not-configured", "LiveKit is not configured", 60)
    body = await read_body(request)
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    receiver = api.WebhookReceiver(
        api.TokenVerifier(settings.livekit_api_key, settings.livekit_api_secret.get_secret_value())
    )
    try:
        text = body.decode()
        event = receiver.receive(text, token)
    except ParseError as exc:
        raise bad_request(f"the webhook body is not a LiveKit event: {exc}") from None
    except Exception as exc:  # the receiver raises bare Exception for a hash mismatch
        svc.metrics.webhooks.labels("invalid").inc()
        log.warning("webhook_refused", reason=type(exc).__name__)
        raise unauthorized("the webhook signature does not verify") from None
    svc.metrics.webhooks.labels(event.event or "unknown").inc()
    with bind_log_context(room=event.room.name or None):
        await handle(svc, event)
    return json_response({"received": event.event, "id": event.id})


async def handle(svc: Services, event: WebhookEvent) -> None:
    room = parse_room_name(event.room.name)
    if room is None:
        return  # not one of ours
    if event.event == "room_finished":
        if room.kind is RoomKind.AGENT:
            await release_slot(svc, event.room.name)
        sessions = await svc.store.list_sessions(room_name=event.room.name, open_only=True)
        for session in sessions.items:
            await svc.store.finish_session(session.id, end_reason=EndReason.ROOM_CLOSED)
            log.info("session_finalised", session_id=str(session.id), end_reason="room_closed")
    elif event.event == "participant_left" and is_agent(event.participant) and svc.reconciler:
        svc.reconciler.nudge()


routes = [Route("/api/livekit/webhook", livekit_webhook, methods=["POST"])]
