"""Agent versions: `GET|POST /api/agents/{agent_id}/versions`, `GET …/versions/{version}`,
`GET …/versions/{a}/diff/{b}` and `POST /api/agents/{agent_id}/rollback`.

The agent row is the working draft (what PATCH and Voxie edit); publishing snapshots it as the
next version, which plain calls then run; a rollback points the agent at an older version.
Agents are addressed as everywhere (`backend.agents.find_agent`): by id or slug, anyone else's
is 404, and an archived one is gone (404) — archiving stops publishing, rollback and reads.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from backend.agents import check_tools, find_agent
from backend.auth import Principal
from backend.bodies import Body, Paged
from backend.http import (
    WHOLE_NUMBER,
    PageQuery,
    TargetParam,
    VersionParam,
    authenticated,
    json_response,
    path,
    query,
    read_model,
    services,
)
from backend.operations import Operation
from backend.problems import Problem, not_found
from backend.routes.agents import AgentRef, not_archived
from backend.services import Services
from shared.contracts import AgentConfig
from shared.contracts.versions import (
    DRAFT,
    AgentVersion,
    Note,
    RunTarget,
    VersionNumber,
    diff,
    runnable_fields,
)
from shared.logging import get_logger
from shared.store import NotFound
from shared.store.errors import DraftNotPublishable, NothingToPublish

log = get_logger(__name__)

VersionPage = Paged[AgentVersion]


class PublishRequest(BaseModel):
    """`POST /api/agents/{agent_id}/versions`: publish the draft, with an optional note."""

    model_config = ConfigDict(extra="forbid")

    note: Note = ""


class RollbackRequest(BaseModel):
    """`POST /api/agents/{agent_id}/rollback`: the existing version plain calls run from now."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[VersionNumber, WHOLE_NUMBER]


class VersionRef(AgentRef):
    version: VersionParam


class DiffRef(AgentRef):
    a: Annotated[TargetParam, Field(description="a version number or `draft`")]
    b: Annotated[TargetParam, Field(description="a version number or `draft`")]


class FieldChange(Body):
    field: str
    a: Any = Field(description="the value in `a`")
    b: Any = Field(description="the value in `b`")


class VersionDiff(Body):
    """The runnable fields that differ between `a` and `b` (empty: they run the same)."""

    agent_id: str
    a: RunTarget
    b: RunTarget
    changes: list[FieldChange]


async def _agent(request: Request, principal: Principal) -> AgentConfig:
    svc = services(request)
    return not_archived(await find_agent(svc, principal, path(request, AgentRef).agent_id))


async def _version(
    svc: Services, principal: Principal, agent: AgentConfig, version: int
) -> AgentVersion:
    try:
        return await svc.store.get_version(agent.id, version, owner_id=principal.owner_scope)
    except NotFound:
        raise not_found(
            f"agent {agent.slug} has no version {version}", agent_id=str(agent.id)
        ) from None


async def _fields(
    svc: Services, principal: Principal, agent: AgentConfig, target: RunTarget
) -> dict[str, Any]:
    if target == DRAFT:
        return runnable_fields(agent)
    assert isinstance(target, int)
    return (await _version(svc, principal, agent, target)).config.model_dump(mode="json")


@authenticated()
async def list_versions(request: Request, principal: Principal) -> Response:
    asked = query(request, PageQuery)
    agent = await _agent(request, principal)
    page = await services(request).store.list_versions(
        agent.id, owner_id=principal.owner_scope, limit=asked.limit, offset=asked.offset
    )
    return json_response(VersionPage.of(page))


@authenticated()
async def get_version(request: Request, principal: Principal) -> Response:
    number = path(request, VersionRef).version
    agent = await _agent(request, principal)
    return json_response(await _version(services(request), principal, agent, number))


@authenticated()
async def diff_versions(request: Request, principal: Principal) -> Response:
    ref = path(request, DiffRef)
    svc = services(request)
    agent = await _agent(request, principal)
    a = await _fields(svc, principal, agent, ref.a)
    b = await _fields(svc, principal, agent, ref.b)
    changes = [FieldChange(field=c["field"], a=c["from"], b=c["to"]) for c in diff(a, b)]
    return json_response(VersionDiff(agent_id=str(agent.id), a=ref.a, b=ref.b, changes=changes))


@authenticated()
async def publish_version(request: Request, principal: Principal) -> Response:
    body = await read_model(request, PublishRequest, optional=True) or PublishRequest()
    svc = services(request)
    agent = await _agent(request, principal)
    # The save-time rules for tools hold for what goes live too (422 when refused).
    await check_tools(svc, agent.tools, agent.owner_id)
    try:
        published = await svc.store.publish_version(
            agent.id,
            published_by=principal.identity,
            note=body.note,
            owner_id=principal.owner_scope,
        )
    except DraftNotPublishable as exc:
        raise Problem(409, "draft-invalid", str(exc), agent_id=str(agent.id)) from None
    except NothingToPublish as exc:
        raise Problem(
            409,
            "nothing-to-publish",
            f"{exc}: the draft is what version {agent.published_version} runs",
            published_version=agent.published_version,
        ) from None
    log.info(
        "agent_published",
        agent_id=str(agent.id),
        version=published.version,
        published_by=principal.identity,
    )
    location = f"/api/agents/{agent.id}/versions/{published.version}"
    return json_response(published, 201, headers={"Location": location})


@authenticated()
async def rollback_agent(request: Request, principal: Principal) -> Response:
    body = await read_model(request, RollbackRequest)
    svc = services(request)
    agent = await _agent(request, principal)
    try:
        rolled = await svc.store.rollback_version(
            agent.id,
            body.version,
            rolled_back_by=principal.identity,
            owner_id=principal.owner_scope,
        )
    except NotFound as exc:
        raise not_found(str(exc), agent_id=str(agent.id)) from None
    log.info(
        "agent_rolled_back",
        agent_id=str(agent.id),
        from_version=agent.published_version,
        to_version=rolled.published_version,
        rolled_back_by=principal.identity,
    )
    return json_response(rolled)


operations = [
    Operation(
        "GET",
        "/api/agents/{agent_id}/versions",
        list_versions,
        "the agent's published versions, newest first",
        response=VersionPage,
        path_params=AgentRef,
        query=PageQuery,
        problems=(404, 409),
    ),
    Operation(
        "POST",
        "/api/agents/{agent_id}/versions",
        publish_version,
        "publish the draft as the agent's next version: plain calls run it from now",
        ok=201,
        response=AgentVersion,
        path_params=AgentRef,
        body=PublishRequest,
        body_required=False,
        problems=(404, 409),
        description="409 draft-invalid when the draft would not run (no instructions), "
        "nothing-to-publish when it equals the published version, "
        "conflict when it changed while being published.",
    ),
    Operation(
        "GET",
        "/api/agents/{agent_id}/versions/{version}",
        get_version,
        "one published version: its snapshot, who published it, when, and the note",
        response=AgentVersion,
        path_params=VersionRef,
        problems=(404, 409),
    ),
    Operation(
        "GET",
        "/api/agents/{agent_id}/versions/{a}/diff/{b}",
        diff_versions,
        "the runnable fields that differ between two versions (either may be `draft`)",
        response=VersionDiff,
        path_params=DiffRef,
        problems=(404, 409),
    ),
    Operation(
        "POST",
        "/api/agents/{agent_id}/rollback",
        rollback_agent,
        "point the agent at an existing version: the next plain call runs it (logged)",
        response=AgentConfig,
        path_params=AgentRef,
        body=RollbackRequest,
        problems=(404, 409),
        description="Changes which version is published, not the draft (has_unpublished_changes "
        "says whether the draft differs from it). 404 when the version does not exist.",
    ),
]
