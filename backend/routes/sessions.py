"""Call sessions: `GET /api/sessions` (filtered by agent and kind, paged) and `GET
/api/sessions/{id}` with its transcript, summary, token usage and turns (each spoken reply
with the caller's wait for it).
A user sees only sessions of their own agents. Each session carries its agent's name, read for
a whole page at once (`AgentStore.agent_names`), and within the caller's own agents only."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import Principal
from backend.bodies import SessionDetail, SessionItem, SessionPage, with_agent_names
from backend.http import PageQuery, UuidParam, authenticated, json_response, path, query, services
from backend.operations import Operation
from backend.problems import not_found
from shared.contracts import CallSession, SessionKind
from shared.store import AgentStore, NotFound, Page


class SessionListQuery(PageQuery):
    agent_id: Annotated[UuidParam | None, Field(description="one agent's sessions")] = None
    kind: Annotated[
        SessionKind | None,
        Field(description="one kind: test calls, live calls or Voxie (creation) sessions"),
    ] = None


class SessionId(BaseModel):
    session_id: UuidParam


async def named(
    store: AgentStore, sessions: list[CallSession], owner_scope: UUID | None
) -> list[SessionItem]:
    """`sessions` with their agents' names: one store call for all of them. Scoped to the
    caller's agents, so a session pointing at another owner's agent never shows its name."""
    agent_ids = sorted({s.agent_id for s in sessions if s.agent_id is not None})
    names = await store.agent_names(agent_ids, owner_id=owner_scope) if agent_ids else {}
    return with_agent_names(sessions, names)


@authenticated()
async def list_sessions(request: Request, principal: Principal) -> Response:
    asked = query(request, SessionListQuery)
    store = services(request).store
    page = await store.list_sessions(
        agent_id=asked.agent_id,
        owner_id=principal.owner_scope,
        kind=asked.kind,
        limit=asked.limit,
        offset=asked.offset,
    )
    items = await named(store, page.items, principal.owner_scope)
    return json_response(
        SessionPage.of(Page(items, page.total, page.limit, page.offset, page.unreadable))
    )


@authenticated()
async def get_session(request: Request, principal: Principal) -> Response:
    store = services(request).store
    session_id = path(request, SessionId).session_id
    session = await store.get_session(session_id)
    if principal.user_id is not None and session.owner_id != principal.user_id:
        raise not_found(f"no session {session_id}")
    try:
        items, summary = await store.get_transcript(session_id)
    except NotFound:
        items, summary = [], None
    usage = await store.get_usage(session_id)
    turns = await store.get_turns(session_id)
    return json_response(
        SessionDetail(
            session=(await named(store, [session], principal.owner_scope))[0],
            transcript=items,
            summary=summary,
            usage=usage,
            turns=turns,
        )
    )


operations = [
    Operation(
        "GET",
        "/api/sessions",
        list_sessions,
        "call sessions, newest first (a user: those of their own agents)",
        response=SessionPage,
        query=SessionListQuery,
        description="The filters given all apply; `total` counts every session they match, "
        "so `offset` pages through all of them.",
    ),
    Operation(
        "GET",
        "/api/sessions/{session_id}",
        get_session,
        "one session with its transcript, summary, usage and turn latencies",
        response=SessionDetail,
        path_params=SessionId,
        problems=(404,),
    ),
]
