"""The platform's live rooms, read from LiveKit: `GET /api/rooms`, `GET /api/stats`, the
caller's `POST /api/rooms/{room_name}/end` (End call), and the operator's
`POST /api/rooms/{room_name}/close` and `POST /api/gc` (a reconciler pass now).

The read model (`shared.room_census`) is LiveKit's view; a user sees the rooms of their own
agents and the rooms they are in (`backend.agents.visible_rooms`).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from uuid import UUID

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from backend.admission import release_slot
from backend.agents import visible_rooms
from backend.auth import Principal
from backend.bodies import (
    Capacity,
    PassReportBody,
    RoomClosed,
    RoomCounts,
    RoomList,
    Stats,
)
from backend.http import authenticated, json_response, path, services
from backend.operations import Operation
from backend.problems import Problem, not_found, unavailable
from shared.contracts.room_messages import RoomClosedCode
from shared.logging import get_logger
from shared.naming import RoomKind, parse_room_name
from shared.room_census import RoomView
from shared.rooms import RoomGone
from shared.store import AgentStore, StoreUnavailable
from shared.validation import excerpt

log = get_logger(__name__)

CLOSED_BY_OPERATOR_MESSAGE = "This call was ended by the platform operator."


class RoomPath(BaseModel):
    room_name: str


@authenticated()
async def list_rooms(request: Request, principal: Principal) -> Response:
    now = datetime.now(UTC)
    svc = services(request)
    states = await visible_rooms(svc, principal)
    rooms = sorted((s.view(now) for s in states), key=lambda r: r.created_at)
    names = await agent_names(svc.store, rooms, principal)
    named = [
        room.model_copy(update={"agent_name": names.get(room.agent_id) if room.agent_id else None})
        for room in rooms
    ]
    return json_response(RoomList(items=named, total=len(named)))


async def agent_names(
    store: AgentStore, rooms: list[RoomView], principal: Principal
) -> dict[UUID, str]:
    """The rooms' agents by name, in one store call. The rooms come from LiveKit: during a
    database outage they are still listed (the operator needs them most then), unnamed."""
    ids = sorted({room.agent_id for room in rooms if room.agent_id is not None})
    if not ids:
        return {}
    try:
        found = await store.agent_names(ids, owner_id=principal.owner_scope)
    except StoreUnavailable as exc:
        log.warning("room_agent_names_unavailable", error=repr(exc))
        return {}
    return found


@authenticated()
async def stats(request: Request, principal: Principal) -> Response:
    svc = services(request)
    now = datetime.now(UTC)
    views = [s.view(now) for s in await visible_rooms(svc, principal)]
    agent_rooms = sum(1 for r in views if r.kind == "agent")
    body = Stats(
        rooms=RoomCounts(agent=agent_rooms, creation=sum(1 for r in views if r.kind == "creation")),
        by_state=dict(Counter(r.state for r in views)),
        agents_running=sum(len(r.agents) for r in views),
        humans=sum(len(r.humans) for r in views),
    )
    if principal.is_operator:
        limit = svc.settings.max_total_agents
        body.capacity = Capacity(
            max_total_agents=limit,
            agent_rooms=agent_rooms,
            available=max(0, limit - agent_rooms),
        )
    return json_response(body.model_dump(mode="json", exclude_none=True))  # capacity: operator


@authenticated(operator=True)
async def close_room(request: Request, principal: Principal) -> Response:
    svc = services(request)
    name = path(request, RoomPath).room_name
    parsed = parse_room_name(name)
    if parsed is None:
        raise not_found(f"'{excerpt(name, 100)}' is not a platform room")
    if svc.reconciler is None:
        raise unavailable("livekit-not-configured", "LiveKit is not configured", 60)
    if name not in {room.name for room in await svc.rooms.list_rooms()}:
        raise not_found(f"no room {name}")
    await svc.reconciler.close_room(
        name, RoomClosedCode.CLOSED_BY_OPERATOR, CLOSED_BY_OPERATOR_MESSAGE
    )
    if parsed.kind is RoomKind.AGENT:
        await release_slot(svc, name)
    svc.metrics.reconciler_actions.labels("closed_by_operator").inc()
    return json_response(RoomClosed(room_name=name, closed=True))


@authenticated()
async def end_call(request: Request, principal: Principal) -> Response:
    """The caller's End call: hang up the call the caller is in (the operator: any room). The
    room's open session is marked ending at once, so the Calls page shows the hang-up within a
    second while the worker still writes the summary; then the room is deleted, which the
    agent's worker records as `user_hangup` for a test call and a Voxie session alike (one
    action, one end reason), and its place is free."""
    svc = services(request)
    name = path(request, RoomPath).room_name
    parsed = parse_room_name(name)
    if parsed is None:
        raise not_found(f"'{excerpt(name, 100)}' is not a platform room")
    try:
        present = await svc.rooms.participants(name)
    except RoomGone:
        raise not_found(f"no room {name}") from None
    if not principal.is_operator and principal.identity not in {p.identity for p in present}:
        # Someone else's call is not the caller's to end, nor to know of.
        raise not_found(f"no room {name}")
    sessions = await svc.store.list_sessions(room_name=name, open_only=True)
    for session in sessions.items:
        await svc.store.mark_ending(session.id)
    await svc.rooms.delete(name)
    if parsed.kind is RoomKind.AGENT:
        await release_slot(svc, name)
    log.info("call_ended_by_caller", requested_by=principal.identity)
    return json_response(RoomClosed(room_name=name, closed=True))


@authenticated(operator=True)
async def run_gc(request: Request, principal: Principal) -> Response:
    svc = services(request)
    if svc.reconciler is None:
        raise unavailable("livekit-not-configured", "LiveKit is not configured", 60)
    report = await svc.reconciler.try_pass()
    if report is None:
        raise Problem(
            409,
            "not-reconciler-leader",
            "another backend replica holds the reconciler lease and runs the passes; "
            "it runs again within GC_INTERVAL_S",
        )
    return json_response(PassReportBody.model_validate(report.to_json()))


operations = [
    Operation("GET", "/api/rooms", list_rooms, "the platform's live rooms", response=RoomList),
    Operation("GET", "/api/stats", stats, "room and capacity figures", response=Stats),
    Operation(
        "POST",
        "/api/rooms/{room_name}/close",
        close_room,
        "close a room and tell the people in it why (operator)",
        response=RoomClosed,
        path_params=RoomPath,
        problems=(404,),
    ),
    Operation(
        "POST",
        "/api/rooms/{room_name}/end",
        end_call,
        "hang up the call the caller is in: the room closes, its session shows as ending",
        response=RoomClosed,
        path_params=RoomPath,
        problems=(404,),
    ),
    Operation(
        "POST",
        "/api/gc",
        run_gc,
        "run a reconciler pass now (operator)",
        response=PassReportBody,
        problems=(409,),
    ),
]
