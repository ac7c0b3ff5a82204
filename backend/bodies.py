"""What the API answers: one pydantic model per response body.

Handlers build their answers from these models and the OpenAPI document takes its response
schemas from the same models, so a field the handler adds or drops changes the document too.
Request bodies are validated by the contract models (`shared.contracts`) and the route modules'
own request models.

Example (`GET /api/agents`, an `AgentPage`):

    {"items": [{"id": "3f2b…", "slug": "clarence-coherence", …,
                "last_call_at": "2026-12-01T09:30:00Z", "calls_7d": 4}],
     "total": 1, "limit": 50, "offset": 0}

Example (`GET /api/sessions`, a `SessionPage`; `GET /api/sessions/{id}` has the same `session`):

    {"items": [{"id": "6a0e…", "agent_id": "3f2b…", "kind": "test", "status": "ended", …,
                "agent_name": "Clarence Coherence"},
               {"id": "71c4…", "agent_id": null, "kind": "creation", …, "agent_name": null}],
     "total": 2, "limit": 50, "offset": 0, "unreadable": []}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import AgentConfig, CallSession, CallTurn, TokenUsage
from shared.contracts.versions import RunTarget
from shared.room_census import RoomView
from shared.store import CallStats, Page

T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Paged(Body, Generic[T]):
    """One page of a list, newest first: the one shape of every paged answer."""

    items: list[T]
    total: int = Field(description="rows on every page together, unreadable ones included")
    limit: int
    offset: int
    unreadable: list[UUID] = Field(
        default_factory=list,
        description="rows of this page that fail their contract: left out of `items` (logged; "
        "the operator reads an agent's at /api/agents/{id}/raw)",
    )

    @classmethod
    def of(cls, page: Page[T]) -> Self:
        return cls(
            items=page.items,
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            unreadable=list(page.unreadable),
        )


class AgentListItem(AgentConfig):
    """An agent in the list, with its calls at a glance (test and live calls, not Voxie's)."""

    last_call_at: datetime | None = Field(description="when its latest call started")
    calls_7d: int = Field(ge=0, description="calls started in the last 7 days")


AgentPage = Paged[AgentListItem]


class SessionItem(CallSession):
    """A session as the API shows it: with its agent's name, so a list of calls names every
    agent without the caller loading all of them."""

    agent_name: str | None = Field(
        description="the agent's name; null when the session has no agent (a Voxie session "
        "about no agent) or its agent was deleted",
        examples=["Clarence Coherence"],
    )


SessionPage = Paged[SessionItem]


def with_call_stats(page: Page[AgentConfig], stats: dict[UUID, CallStats]) -> Page[AgentListItem]:
    items = [
        AgentListItem(
            **dict(agent),
            last_call_at=stats.get(agent.id, CallStats()).last_call_at,
            calls_7d=stats.get(agent.id, CallStats()).calls_7d,
        )
        for agent in page.items
    ]
    return Page(items, page.total, page.limit, page.offset, page.unreadable)


class RoomGrantBody(Body):
    room_name: str
    token: str = Field(description="LiveKit join token for this room only")
    livekit_url: str


class SpawnGrant(RoomGrantBody):
    agent: AgentConfig = Field(description="the agent as stored: its working draft")
    version: RunTarget = Field(
        description="what the call runs: a published version number, or `draft`"
    )


class RawAgent(Body):
    """The operator's view of a stored agent row, whether or not it passes the contract."""

    agent_id: str
    problem: str | None = Field(description="why the row fails the contract; null if it passes")
    row: dict[str, Any] = Field(description="the row's columns as stored")


def with_agent_names(sessions: list[CallSession], names: dict[UUID, str]) -> list[SessionItem]:
    return [
        SessionItem(
            **dict(session),
            agent_name=names.get(session.agent_id) if session.agent_id else None,
        )
        for session in sessions
    ]


class SessionDetail(Body):
    session: SessionItem
    transcript: list[dict[str, Any]]
    summary: str | None
    usage: list[TokenUsage]
    turns: list[CallTurn] = Field(
        description="each spoken agent reply in order, with the caller's wait for it"
    )


class RoomList(Body):
    items: list[RoomView]
    total: int


class RoomCounts(Body):
    agent: int
    creation: int


class Capacity(Body):
    max_total_agents: int
    agent_rooms: int
    available: int


class Stats(Body):
    rooms: RoomCounts
    by_state: dict[str, int]
    agents_running: int
    humans: int
    capacity: Capacity | None = Field(default=None, description="the operator only")


class RoomClosed(Body):
    room_name: str
    closed: Literal[True]


class ReconcilerAction(Body):
    action: str
    room: str
    detail: str


class PassReportBody(Body):
    rooms: int
    open_sessions: int
    actions: list[ReconcilerAction]


class Health(Body):
    status: Literal["ok"]


class WorkerCount(Body):
    alive: int = Field(description="workers of this kind with a live heartbeat")
    available: int = Field(description="of those, the ones with room for another call")


class Ready(Body):
    status: Literal["ready"]
    checks: dict[str, str]
    workers: dict[str, WorkerCount] | None = Field(
        default=None,
        description="live workers by kind (voxie, spawner) from their heartbeats; null while "
        "the store cannot be read. Readiness does not depend on them: rooms of a kind without "
        "a worker are refused with 503 at the spawn",
    )


class WebhookReceived(Body):
    received: str
    id: str


class Problem(Body):
    """RFC 9457 problem details; more members (`hint`, `current_version`, …) by type."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None
