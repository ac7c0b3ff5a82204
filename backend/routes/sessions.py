"""Call sessions: `GET /api/sessions` (filter by agent, paged) and `GET /api/sessions/{id}` with
its transcript, summary and token usage. A user sees only sessions of their own agents."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.auth import Principal
from backend.http import (
    authenticated,
    json_response,
    page_body,
    path_uuid,
    query_int,
    query_uuid,
    services,
)
from backend.problems import not_found
from shared.store import NotFound
from shared.store.base import MAX_PAGE_SIZE


@authenticated()
async def list_sessions(request: Request, principal: Principal) -> Response:
    page = await services(request).store.list_sessions(
        agent_id=query_uuid(request, "agent_id"),
        owner_id=principal.owner_scope,
        limit=query_int(request, "limit", 50, 1, MAX_PAGE_SIZE),
        offset=query_int(request, "offset", 0, 0, 1_000_000),
    )
    return json_response(page_body(page))


@authenticated()
async def get_session(request: Request, principal: Principal) -> Response:
    store = services(request).store
    session_id = path_uuid(request, "session_id")
    session = await store.get_session(session_id)
    if principal.user_id is not None and session.owner_id != principal.user_id:
        raise not_found(f"no session {session_id}")
    try:
        items, summary = await store.get_transcript(session_id)
    except NotFound:
        items, summary = [], None
    usage = await store.get_usage(session_id)
    return json_response(
        {"session": session, "transcript": items, "summary": summary, "usage": usage}
    )


routes = [
    Route("/api/sessions", list_sessions, methods=["GET"]),
    Route("/api/sessions/{session_id}", get_session, methods=["GET"]),
]
