"""Agents: `GET|POST /api/agents`, `GET|PATCH|DELETE /api/agents/{agent_id}` and the test call,
`POST /api/agents/{agent_id}/spawn`; the operator's `/api/agents/{agent_id}/raw`.

`{agent_id}` is the agent's UUID or its slug (normalised; a near miss answers 404 with a "did
you mean"). A user reaches only their own agents — anyone else's answers 404, exactly as a
missing one does. PATCH carries the `version` it read; a stale one answers 409. DELETE archives:
afterwards the agent's URL answers 404 and it cannot run, while the row and its sessions stay
(listed with `include_archived=true`).
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_validator,
)
from starlette.requests import Request
from starlette.responses import Response

from backend.admission import open_room
from backend.agents import check_tools, counted, find_agent, raw_record
from backend.auth import Principal, forbidden
from backend.bodies import AgentPage, RawAgent, SpawnGrant, with_call_stats
from backend.http import (
    WHOLE_NUMBER,
    BoolParam,
    PageQuery,
    TargetParam,
    UuidParam,
    authenticated,
    json_response,
    path,
    query,
    read_model,
    services,
)
from backend.operations import Operation, without_null
from backend.problems import Problem, not_found
from shared.contracts import AgentConfig, AgentFields, AgentPatch, AgentStatus, NewAgent
from shared.contracts.agent_config import NotRunnable, check_runnable
from shared.contracts.dispatch import SessionKind
from shared.contracts.versions import RunTarget
from shared.store import NotFound, UnreadableAgent
from shared.store.search import MAX_SEARCH_LENGTH, search_error
from shared.validation import describe_validation_error


class AgentCreate(AgentFields):
    """`POST /api/agents`: the editable fields; only the operator may name another owner."""

    owner_id: UUID | None = None


def _without_nulls(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        without_null(prop)


class AgentUpdate(AgentPatch):
    """`PATCH /api/agents/{agent_id}`: the fields to change and the version they were read at.
    A field left out keeps its value; null is not a value (no field may be emptied to null)."""

    model_config = ConfigDict(json_schema_extra=_without_nulls)

    version: Annotated[StrictInt, Field(ge=1), WHOLE_NUMBER]

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict) and (nulls := sorted(k for k, v in data.items() if v is None)):
            raise ValueError(
                f"{', '.join(nulls)}: null is not a value; leave a field out to keep it"
            )
        return data


class RawPatch(BaseModel):
    """`PATCH /api/agents/{agent_id}/raw`: the one change an unreadable row may get."""

    model_config = ConfigDict(extra="forbid")

    status: Literal[AgentStatus.ARCHIVED]


class SpawnRequest(BaseModel):
    """`POST /api/agents/{agent_id}/spawn`: no fields yet (an empty body or `{}`)."""

    model_config = ConfigDict(extra="forbid")


class SpawnQuery(BaseModel):
    version: Annotated[
        TargetParam | None,
        Field(
            description="a test call of this version number, or of the working `draft`; left "
            "out, the call runs the published version"
        ),
    ] = None


def _search_text(value: str) -> str:
    if (reason := search_error(value)) is not None:
        raise ValueError(reason)
    return value


class AgentListQuery(PageQuery):
    include_archived: BoolParam = False
    owner_id: Annotated[UuidParam | None, Field(description="operator: one owner's agents")] = None
    q: Annotated[
        str | None,
        AfterValidator(_search_text),
        Field(
            description="keep the agents whose name, slug or voice contains this text, in any "
            "case (every character is itself: `%`, `_` and `*` are no wildcards); the "
            "operator's search also matches the agents of owners whose id starts with it. "
            "`total` counts the matches",
            json_schema_extra={"maxLength": MAX_SEARCH_LENGTH, "pattern": "^[^\\u0000]*$"},
        ),
    ] = None


class OwnerQuery(BaseModel):
    owner_id: Annotated[
        UuidParam | None, Field(description="operator: whose slug `{agent_id}` is")
    ] = None


class AgentRef(BaseModel):
    agent_id: Annotated[
        str, Field(min_length=1, description="the agent's UUID or its slug (normalised)")
    ]


class AgentId(BaseModel):
    agent_id: UuidParam


@authenticated()
async def list_agents(request: Request, principal: Principal) -> Response:
    asked = query(request, AgentListQuery)
    owner = asked.owner_id
    if owner is not None and not principal.is_operator and owner != principal.user_id:
        raise forbidden("only the operator may list another owner's agents")
    svc = services(request)
    page = await svc.store.list_agents(
        principal.owner_scope or owner,
        limit=asked.limit,
        offset=asked.offset,
        include_archived=asked.include_archived,
        search=asked.q,
    )
    stats = await svc.store.agent_call_stats([agent.id for agent in page.items])
    return json_response(AgentPage.of(with_call_stats(counted(svc, page), stats)))


@authenticated()
async def create_agent(request: Request, principal: Principal) -> Response:
    body = await read_model(request, AgentCreate)
    foreign_owner = body.owner_id is not None and body.owner_id != principal.owner_id
    if foreign_owner and not principal.is_operator:
        raise forbidden("an agent is created for the caller; only the operator names owners")
    fields = body.model_dump(exclude={"owner_id"}, exclude_unset=True)
    new = NewAgent.model_validate({**fields, "owner_id": body.owner_id or principal.owner_id})
    svc = services(request)
    await check_tools(svc, new.tools, new.owner_id)
    agent = await svc.store.create_agent(new)
    return json_response(agent, 201, headers={"Location": f"/api/agents/{agent.id}"})


@authenticated()
async def get_agent(request: Request, principal: Principal) -> Response:
    svc = services(request)
    ref = path(request, AgentRef).agent_id
    agent = await find_agent(svc, principal, ref, query(request, OwnerQuery).owner_id)
    return json_response(not_archived(agent))


@authenticated()
async def update_agent(request: Request, principal: Principal) -> Response:
    svc = services(request)
    ref = path(request, AgentRef).agent_id
    body = await read_model(request, AgentUpdate)
    patch = AgentPatch.model_validate(
        body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    )
    agent = not_archived(await find_agent(svc, principal, ref))
    try:
        agent.with_changes(patch)
    except ValidationError as exc:
        # Valid on its own, not with what is stored (activating an agent without instructions).
        raise Problem(
            409,
            "invalid-combination",
            f"the change conflicts with the agent's current fields: "
            f"{describe_validation_error(exc)}",
        ) from None
    if patch.tools is not None:
        await check_tools(svc, patch.tools, agent.owner_id)
    updated = await svc.store.update_agent(
        agent.id, patch, expected_version=body.version, owner_id=principal.owner_scope
    )
    return json_response(updated)


@authenticated()
async def archive_agent(request: Request, principal: Principal) -> Response:
    svc = services(request)
    agent = await find_agent(svc, principal, path(request, AgentRef).agent_id)
    archived = await svc.store.archive_agent(agent.id, owner_id=principal.owner_scope)
    return json_response(archived)


def not_archived(agent: AgentConfig) -> AgentConfig:
    """DELETE archives, and after a DELETE the agent is gone from its URL (no reads, no
    changes); its row stays for the sessions' history and in `GET /api/agents?include_archived`."""
    if agent.status is AgentStatus.ARCHIVED:
        raise not_found(
            f"agent {agent.id} is archived; GET /api/agents?include_archived=true still lists it",
            agent_id=str(agent.id),
        )
    return agent


# The operator's way to an agent row that fails the contract (lists skip it, everything else
# answers 409 agent-unreadable): read it as stored, archive it, or delete it for good.


@authenticated(operator=True)
async def get_agent_raw(request: Request, principal: Principal) -> Response:
    svc = services(request)
    agent_id = path(request, AgentId).agent_id
    return json_response(raw_record(await svc.store.get_agent_row(agent_id)))


@authenticated(operator=True)
async def archive_agent_raw(request: Request, principal: Principal) -> Response:
    svc = services(request)
    agent_id = path(request, AgentId).agent_id
    await read_model(request, RawPatch)
    # Written by SQL whatever the row holds; an unreadable row is only unreadable afterwards.
    with contextlib.suppress(UnreadableAgent):
        await svc.store.archive_agent(agent_id)
    return json_response(raw_record(await svc.store.get_agent_row(agent_id)))


@authenticated(operator=True)
async def delete_agent_raw(request: Request, principal: Principal) -> Response:
    await services(request).store.delete_agent(path(request, AgentId).agent_id)
    return Response(status_code=204)


def runnable(agent: AgentConfig, version: RunTarget | None = None) -> RunTarget:
    """`check_runnable` as the API answers it: what the call runs, or 409 with the reason."""
    try:
        return check_runnable(agent, version)
    except NotRunnable as exc:
        if exc.unpublished:
            code = "agent-not-published"
        elif exc.status is AgentStatus.ARCHIVED:
            code = "agent-archived"
        else:
            code = "agent-not-active"
        raise Problem(409, code, str(exc)) from exc


@authenticated()
async def spawn_agent(request: Request, principal: Principal) -> Response:
    svc = services(request)
    ref = path(request, AgentRef).agent_id
    asked = query(request, SpawnQuery)
    await read_model(request, SpawnRequest, optional=True)  # no fields yet; still checked
    agent = await find_agent(svc, principal, ref)
    target = runnable(agent, asked.version)
    if isinstance(target, int) and target != agent.published_version:
        try:
            await svc.store.get_version(agent.id, target)
        except NotFound:
            raise not_found(f"agent {agent.slug} has no version {target}") from None
    grant = await open_room(svc, principal, SessionKind.TEST, agent, version=target)
    body = SpawnGrant(
        room_name=grant.room_name,
        token=grant.token,
        livekit_url=grant.livekit_url,
        agent=agent,
        version=target,
    )
    return json_response(body, 201)


_AGENT_LINKS = {
    "GetAgent": {"operationId": "get_agent", "parameters": {"agent_id": "$response.body#/id"}},
    "ArchiveAgent": {
        "operationId": "archive_agent",
        "parameters": {"agent_id": "$response.body#/id"},
    },
    "SpawnAgent": {"operationId": "spawn_agent", "parameters": {"agent_id": "$response.body#/id"}},
    "ListVersions": {
        "operationId": "list_versions",
        "parameters": {"agent_id": "$response.body#/id"},
    },
    "PublishVersion": {
        "operationId": "publish_version",
        "parameters": {"agent_id": "$response.body#/id"},
    },
    "Rollback": {"operationId": "rollback_agent", "parameters": {"agent_id": "$response.body#/id"}},
}

operations = [
    Operation(
        "GET",
        "/api/agents",
        list_agents,
        "the caller's agents (the operator: everyone's), newest first",
        response=AgentPage,
        query=AgentListQuery,
        problems=(403,),
    ),
    Operation(
        "POST",
        "/api/agents",
        create_agent,
        "create an agent",
        ok=201,
        response=AgentConfig,
        body=AgentCreate,
        problems=(403, 409),
        description="Each HTTP tool's URL must be a public internet address (or allowlisted "
        "by TOOL_HTTP_ALLOWLIST), checked as Voxie checks it: 422 otherwise.",
        links=_AGENT_LINKS,
    ),
    Operation(
        "GET",
        "/api/agents/{agent_id}",
        get_agent,
        "one agent (an archived one is gone: 404)",
        response=AgentConfig,
        path_params=AgentRef,
        query=OwnerQuery,
        problems=(404, 409),
    ),
    Operation(
        "PATCH",
        "/api/agents/{agent_id}",
        update_agent,
        "change an agent (optimistic: send the version you read)",
        response=AgentConfig,
        path_params=AgentRef,
        body=AgentUpdate,
        problems=(404, 409),
        description="409 when the version is stale, the slug taken, the row unreadable, or the "
        "change does not fit the agent's other fields (activating without instructions).",
    ),
    Operation(
        "DELETE",
        "/api/agents/{agent_id}",
        archive_agent,
        "archive an agent",
        response=AgentConfig,
        path_params=AgentRef,
        problems=(404, 409),
        description="Archives, idempotently: afterwards GET and PATCH of the agent answer 404 "
        "and it cannot run; its slug is free again; the row and its sessions stay for history, "
        "listed by GET /api/agents?include_archived=true. The operator deletes a row for good "
        "with DELETE /api/agents/{agent_id}/raw.",
    ),
    Operation(
        "POST",
        "/api/agents/{agent_id}/spawn",
        spawn_agent,
        "open a test call: a room with the agent dispatched, and a join token",
        ok=201,
        response=SpawnGrant,
        path_params=AgentRef,
        query=SpawnQuery,
        body=SpawnRequest,
        body_required=False,
        problems=(404, 409, 429, 502),
        description="The call runs the published version, or (a test of a change before it is "
        "published) the version or `draft` named by `version`; the answer's `version` says which. "
        "409 when the agent is archived, not active, or has nothing published; 404 when the "
        "version does not exist.",
    ),
    Operation(
        "GET",
        "/api/agents/{agent_id}/raw",
        get_agent_raw,
        "the stored row as is, and why it fails the contract if it does (operator)",
        response=RawAgent,
        path_params=AgentId,
        problems=(404,),
    ),
    Operation(
        "PATCH",
        "/api/agents/{agent_id}/raw",
        archive_agent_raw,
        "archive a stored row whatever it holds (operator)",
        response=RawAgent,
        path_params=AgentId,
        body=RawPatch,
        problems=(404,),
    ),
    Operation(
        "DELETE",
        "/api/agents/{agent_id}/raw",
        delete_agent_raw,
        "delete a stored row for good; its sessions keep their records (operator)",
        ok=204,
        path_params=AgentId,
        problems=(404,),
    ),
]
