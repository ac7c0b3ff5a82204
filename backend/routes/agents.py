"""Agents: `GET|POST /api/agents`, `GET|PATCH|DELETE /api/agents/{agent_id}` and the test call,
`POST /api/agents/{agent_id}/spawn`.

`{agent_id}` is the agent's UUID or its slug (normalised; a near miss answers 404 with a "did
you mean"). A user reaches only their own agents — anyone else's answers 404, exactly as a
missing one does. PATCH carries the `version` it read; a stale one answers 409.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StrictInt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.admission import open_room
from backend.auth import Principal, forbidden
from backend.http import (
    authenticated,
    json_response,
    parse,
    query_bool,
    query_int,
    query_uuid,
    read_json,
    services,
)
from backend.problems import Problem, bad_request
from backend.services import Services
from shared.contracts import AgentConfig, AgentFields, AgentPatch, AgentStatus, NewAgent
from shared.contracts.agent_config import NotRunnable, check_runnable
from shared.contracts.dispatch import SessionKind
from shared.store import InvalidInput
from shared.store.base import MAX_PAGE_SIZE


class AgentCreate(AgentFields):
    """`POST /api/agents`: the editable fields; only the operator may name another owner."""

    owner_id: UUID | None = None


class AgentUpdate(AgentPatch):
    """`PATCH /api/agents/{agent_id}`: the fields to change and the version they were read at."""

    version: Annotated[StrictInt, Field(ge=1)]


async def find_agent(
    services: Services, principal: Principal, ref: str, owner: UUID | None = None
) -> AgentConfig:
    """The caller's agent by id or slug; NotFound (404) for anyone else's."""
    try:
        agent_id = UUID(ref)
    except ValueError:
        agent_id = None
    try:
        if agent_id is not None:
            return await services.store.get_agent(agent_id, owner_id=principal.owner_scope)
        slug_owner = principal.user_id or owner or principal.owner_id
        return await services.store.get_agent_by_slug(slug_owner, ref)
    except InvalidInput as exc:
        raise bad_request(
            f"'{ref[:64]}' is neither an agent id nor a slug: {exc}", code="invalid-id"
        ) from None


@authenticated()
async def list_agents(request: Request, principal: Principal) -> Response:
    owner = query_uuid(request, "owner_id")
    if owner is not None and not principal.is_operator and owner != principal.user_id:
        raise forbidden("only the operator may list another owner's agents")
    page = await services(request).store.list_agents(
        principal.owner_scope or owner,
        limit=query_int(request, "limit", 50, 1, MAX_PAGE_SIZE),
        offset=query_int(request, "offset", 0, 0, 1_000_000),
        include_archived=query_bool(request, "include_archived"),
    )
    return json_response(
        {"items": page.items, "total": page.total, "limit": page.limit, "offset": page.offset}
    )


@authenticated()
async def create_agent(request: Request, principal: Principal) -> Response:
    body = parse(AgentCreate, await read_json(request))
    foreign_owner = body.owner_id is not None and body.owner_id != principal.owner_id
    if foreign_owner and not principal.is_operator:
        raise forbidden("an agent is created for the caller; only the operator names owners")
    fields = body.model_dump(exclude={"owner_id"}, exclude_unset=True)
    new = NewAgent.model_validate({**fields, "owner_id": body.owner_id or principal.owner_id})
    agent = await services(request).store.create_agent(new)
    return json_response(agent, 201, headers={"Location": f"/api/agents/{agent.id}"})


@authenticated()
async def get_agent(request: Request, principal: Principal) -> Response:
    svc = services(request)
    agent = await find_agent(
        svc, principal, request.path_params["agent_id"], query_uuid(request, "owner_id")
    )
    return json_response(agent)


@authenticated()
async def update_agent(request: Request, principal: Principal) -> Response:
    svc = services(request)
    body = parse(AgentUpdate, await read_json(request))
    patch = AgentPatch.model_validate(
        body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    )
    agent = await find_agent(svc, principal, request.path_params["agent_id"])
    updated = await svc.store.update_agent(
        agent.id, patch, expected_version=body.version, owner_id=principal.owner_scope
    )
    return json_response(updated)


@authenticated()
async def archive_agent(request: Request, principal: Principal) -> Response:
    svc = services(request)
    agent = await find_agent(svc, principal, request.path_params["agent_id"])
    archived = await svc.store.archive_agent(agent.id, owner_id=principal.owner_scope)
    return json_response(archived)


def runnable(agent: AgentConfig) -> AgentConfig:
    """`check_runnable` as the API answers it: 409 with the reason."""
    try:
        return check_runnable(agent)
    except NotRunnable as exc:
        code = "agent-archived" if exc.status is AgentStatus.ARCHIVED else "agent-not-active"
        raise Problem(409, code, str(exc)) from exc


@authenticated()
async def spawn_agent(request: Request, principal: Principal) -> Response:
    svc = services(request)
    await read_json(request, optional=True)  # no fields yet; still bounded and well-formed
    agent = runnable(await find_agent(svc, principal, request.path_params["agent_id"]))
    grant = await open_room(svc, principal, SessionKind.TEST, agent)
    body: dict[str, Any] = {
        "room_name": grant.room_name,
        "token": grant.token,
        "livekit_url": grant.livekit_url,
        "agent": agent,
    }
    return json_response(body, 201)


routes = [
    Route("/api/agents", list_agents, methods=["GET"]),
    Route("/api/agents", create_agent, methods=["POST"]),
    Route("/api/agents/{agent_id}", get_agent, methods=["GET"]),
    Route("/api/agents/{agent_id}", update_agent, methods=["PATCH"]),
    Route("/api/agents/{agent_id}", archive_agent, methods=["DELETE"]),
    Route("/api/agents/{agent_id}/spawn", spawn_agent, methods=["POST"]),
]
