"""The platform's live rooms, read from LiveKit: `GET /api/rooms`, `GET /api/stats`, and the
operator's `POST /api/rooms/{room_name}/close` and `POST /api/gc` (a reconciler pass now).

A room's lifecycle state is what its agent publishes as participant attributes
(`shared.contracts.lifecycle`); LiveKit holds them, so there is no second source of truth.
A user sees the rooms of their own agents and the rooms they are in.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.admission import release_slot
from backend.auth import Principal
from backend.http import authenticated, json_response, services
from backend.problems import Problem, not_found, unavailable
from backend.reconciler import RoomState, room_states
from backend.services import Services
from shared.contracts.room_messages import RoomClosedCode
from shared.naming import RoomKind, parse_room_name
from shared.store.base import MAX_PAGE_SIZE

CLOSED_BY_OPERATOR_MESSAGE = "This call was ended by the platform operator."


def describe(state: RoomState, now: datetime) -> dict[str, Any]:
    lifecycle = state.lifecycle
    if lifecycle is not None:
        phase = lifecycle.state.value
    elif state.agents:
        phase = "starting"  # the agent has not published its state yet
    else:
        phase = "waiting_for_agent" if state.humans else "empty"
    return {
        "name": state.room.name,
        "kind": state.name.kind,
        "agent_id": state.name.agent_id,
        "humans": [p.identity for p in state.humans],
        "agent_present": bool(state.agents),
        "agents": [p.identity for p in state.agents],
        "state": phase,
        "grace_remaining_s": lifecycle.grace_remaining_s(now) if lifecycle else None,
        "session_id": lifecycle.session_id if lifecycle else None,
        "age_s": round(max(0.0, now.timestamp() - state.created_at), 1),
        "created_at": datetime.fromtimestamp(state.created_at, UTC).isoformat(),
    }


async def visible_rooms(svc: Services, principal: Principal) -> list[RoomState]:
    rooms = svc.rooms
    states = await room_states(rooms, await rooms.list_rooms())
    if principal.is_operator:
        return states
    page = await svc.store.list_agents(
        principal.user_id, limit=MAX_PAGE_SIZE, include_archived=True
    )
    own: set[UUID] = {agent.id for agent in page.items}
    return [
        s
        for s in states
        if s.name.agent_id in own or any(p.identity == principal.identity for p in s.humans)
    ]


@authenticated()
async def list_rooms(request: Request, principal: Principal) -> Response:
    now = datetime.now(UTC)
    states = await visible_rooms(services(request), principal)
    rooms = sorted((describe(s, now) for s in states), key=lambda r: r["created_at"])
    return json_response({"items": rooms, "total": len(rooms)})


@authenticated()
async def stats(request: Request, principal: Principal) -> Response:
    svc = services(request)
    now = datetime.now(UTC)
    described = [describe(s, now) for s in await visible_rooms(svc, principal)]
    kinds = Counter(r["kind"] for r in described)
    agent_rooms = kinds[RoomKind.AGENT]
    body: dict[str, Any] = {
        "rooms": {kind.value: kinds[kind] for kind in RoomKind},
        "by_state": dict(Counter(r["state"] for r in described)),
        "agents_running": sum(len(r["agents"]) for r in described),
        "humans": sum(len(r["humans"]) for r in described),
    }
    if principal.is_operator:
        limit = svc.settings.max_total_agents
        body["capacity"] = {
            "max_total_agents": limit,
            "agent_rooms": agent_rooms,
            "available": max(0, limit - agent_rooms),
        }
    return json_response(body)


@authenticated(operator=True)
async def close_room(request: Request, principal: Principal) -> Response:
    svc = services(request)
    name = request.path_params["room_name"]
    parsed = parse_room_name(name)
    if parsed is None:
        raise not_found(f"'{name[:100]}' is not a platform room")
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
    return json_response({"room_name": name, "closed": True})


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
    return json_response(report.to_json())


routes = [
    Route("/api/rooms", list_rooms, methods=["GET"]),
    Route("/api/stats", stats, methods=["GET"]),
    Route("/api/rooms/{room_name}/close", close_room, methods=["POST"]),
    Route("/api/gc", run_gc, methods=["POST"]),
]
