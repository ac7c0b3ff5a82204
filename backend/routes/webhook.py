"""`POST /api/livekit/webhook`: LiveKit's signed room events.

The signature (a JWT signed with the API secret carrying the body's sha256) is verified with
livekit-api's `WebhookReceiver` before anything is read; anything unsigned or tampered with is
401 and nothing is acted on. `room_finished` finalises the room's still-open session rows
(end_reason `room_closed`; a call no agent took, `lost` and failed) and frees an agent room's
slot under MAX_TOTAL_AGENTS; an agent leaving a room wakes the reconciler; the last participant
leaving deletes the room (and frees its place); every event is counted.

Replays are accepted: a signature has no expiry worth relying on, LiveKit retries a delivery
that timed out, and replicas share no memory of event ids. So `handle` must stay idempotent —
the same event any number of times leaves the same state as once: sessions are finalised
first-end-wins by the store, a slot and the census entry are released by room name (again is a
no-op, never a second decrement), a reconciler nudge only brings a pass forward, and a deserted
room is deleted only while nobody is in it. A new handler must keep this property.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import ParseError
from livekit import api
from livekit.protocol.webhook import WebhookEvent
from pydantic import RootModel
from starlette.requests import Request
from starlette.responses import Response

from backend.admission import release_slot
from backend.auth import unauthorized
from backend.bodies import WebhookReceived
from backend.http import json_response, parse_json, read_body, services
from backend.operations import Access, Operation
from backend.problems import bad_request, unavailable
from backend.services import Services
from shared.contracts import EndReason, SessionStatus
from shared.contracts.sessions import NO_AGENT
from shared.logging import bind_log_context, get_logger
from shared.naming import RoomKind, parse_room_name
from shared.presence import is_agent
from shared.rooms import LiveKitError, RoomGone

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
    except (ParseError, RecursionError) as exc:
        raise bad_request(f"the webhook body is not a LiveKit event: {exc}") from None
    except Exception as exc:  # the receiver raises bare Exception for a hash mismatch
        svc.metrics.webhooks.labels("invalid").inc()
        log.warning("webhook_refused", reason=type(exc).__name__)
        raise unauthorized("the webhook signature does not verify") from None
    parse_json(body)  # signed, but still only portable JSON gets in (one reader for all)
    svc.metrics.webhooks.labels(event.event or "unknown").inc()
    with bind_log_context(room=event.room.name or None):
        await handle(svc, event)
    return json_response(WebhookReceived(received=event.event, id=event.id))


async def handle(svc: Services, event: WebhookEvent) -> None:
    """Acts on one event; idempotent (see the module docstring): replays change nothing."""
    room = parse_room_name(event.room.name)
    if room is None:
        return  # not one of ours
    if event.event == "room_finished":
        if room.kind is RoomKind.AGENT:
            await release_slot(svc, event.room.name)
        sessions = await svc.store.list_sessions(room_name=event.room.name, open_only=True)
        for session in sessions.items:
            if session.job_id is None:  # opened with the room, and no agent ever took it
                end, status, error = EndReason.LOST, SessionStatus.FAILED, NO_AGENT
            else:
                end, status, error = EndReason.ROOM_CLOSED, SessionStatus.ENDED, None
            await svc.store.finish_session(session.id, end_reason=end, status=status, error=error)
            log.info("session_finalised", session_id=str(session.id), end_reason=end)
    elif event.event == "participant_left":
        if is_agent(event.participant) and svc.reconciler:
            svc.reconciler.nudge()
        await _close_if_deserted(svc, event.room.name, room.kind, event.participant.identity)


async def _close_if_deserted(svc: Services, name: str, kind: RoomKind, gone: str) -> None:
    """The last one left (a refused call's caller, a Voxie session's user and then Voxie, a
    caller who gave up before an agent came): the room has no further use, so it is deleted
    now and its agent place freed, not ~1.5 min later by LiveKit's departure timeout. A room
    whose agent stays (the spawner's grace period) is not deserted. Idempotent: a replay finds
    the room gone, or people in it."""
    try:
        present = [p for p in await svc.rooms.participants(name) if p.identity != gone]
        if present:
            return
        await svc.rooms.delete(name)
    except RoomGone:
        pass
    except LiveKitError as exc:  # the reconciler deletes a stale room later
        log.warning("deserted_room_not_closed", error=str(exc))
        return
    if kind is RoomKind.AGENT:
        await release_slot(svc, name)
    log.info("deserted_room_closed")


livekit_webhook.access = Access.LIVEKIT  # type: ignore[attr-defined]


class WebhookEventBody(RootModel[dict[str, Any]]):
    """A LiveKit `WebhookEvent` in protobuf's JSON form (see livekit/protocol)."""


operations = [
    Operation(
        "POST",
        "/api/livekit/webhook",
        livekit_webhook,
        "LiveKit's signed room and participant events",
        response=WebhookReceived,
        body=WebhookEventBody,
        problems=(400,),
    )
]
