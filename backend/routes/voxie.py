"""`POST /api/voxie/sessions`: a room where Voxie helps the caller create an agent, or edit one
of their own (`{"agent_id": "<id or slug>"}`).

Voxie makes agents for users only, so the dispatch names the user who will own the result: the
caller, or for the operator token the user it names with `owner_id`; an edit session names the
agent's owner. The operator token is no user: a session it opens without `owner_id` (or to edit
an agent the operator owns) is refused with 403 `owner-required` before any room is made — an
agent Voxie built for the nil owner would show on no user's dashboard (the rule:
`shared.contracts.dispatch.names_a_user`).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.requests import Request
from starlette.responses import Response

from backend.admission import open_room
from backend.agents import find_agent
from backend.auth import Principal, forbidden
from backend.bodies import RoomGrantBody
from backend.http import authenticated, json_response, read_model, services
from backend.operations import Operation
from backend.problems import Problem
from shared.contracts import AgentStatus
from shared.contracts.dispatch import SessionKind, names_a_user, user_identity


class VoxieSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    # Operator only: the user the session creates an agent for.
    owner_id: UUID | None = None


@authenticated()
async def create_voxie_session(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = await read_model(request, VoxieSessionRequest, optional=True) or VoxieSessionRequest()
    if body.owner_id not in (None, principal.owner_id) and not principal.is_operator:
        raise forbidden("only the operator opens sessions on behalf of another user")
    owner = body.owner_id or principal.owner_id
    agent = None
    if body.agent_id is not None:
        agent = await find_agent(svc, principal, body.agent_id, body.owner_id)
        if agent.status is AgentStatus.ARCHIVED:
            raise Problem(409, "agent-archived", f"agent {agent.slug} is archived")
        owner = agent.owner_id
        if not names_a_user(owner):
            raise Problem(
                403,
                "owner-required",
                f"agent {agent.slug} is the operator's, and Voxie edits users' agents only: "
                f"change it with PATCH /api/agents/{agent.id}",
            )
    if not names_a_user(owner):
        raise Problem(
            403,
            "owner-required",
            "Voxie builds agents for users, and the operator token is none: name the user "
            'who will own the agent, {"owner_id": "<user uuid>"}',
        )
    grant = await open_room(
        svc, principal, SessionKind.CREATION, agent, requested_by=user_identity(owner)
    )
    body_out = RoomGrantBody(
        room_name=grant.room_name, token=grant.token, livekit_url=grant.livekit_url
    )
    return json_response(body_out, 201)


operations = [
    Operation(
        "POST",
        "/api/voxie/sessions",
        create_voxie_session,
        "open a Voxie session to create an agent (or edit one: agent_id)",
        ok=201,
        response=RoomGrantBody,
        body=VoxieSessionRequest,
        body_required=False,
        problems=(403, 404, 409, 429, 502),
    )
]
