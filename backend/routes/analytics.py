"""Call analytics: `GET /api/agents/{agent_id}/analytics?from=&to=&group_by=version|day`.

The agent is addressed and scoped as every agent route does (`backend.agents.find_agent`: id or
slug; anyone else's agent and an archived one answer 404). The figures come from the store
(one SQL query on indexed columns, `shared.store.analytics`), the costs from MODEL_PRICES
(`shared.pricing`); what they mean is `shared.contracts.analytics`.

`from` and `to` are ISO 8601 date-times (a date is its midnight; no zone is UTC): the window is
`[from, to)`, by default the 30 days up to now, at most 366 days. A value that is not a date
answers 400; a window that ends before it starts or is too long answers 422.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from backend.agents import find_agent
from backend.auth import Principal
from backend.http import authenticated, json_response, path, query, services
from backend.operations import Operation
from backend.problems import Problem
from backend.routes.agents import AgentRef, OwnerQuery, not_archived
from shared import call_outcomes
from shared.contracts.analytics import (
    DEFAULT_WINDOW_DAYS,
    MAX_WINDOW_DAYS,
    AnalyticsWindow,
    CallAnalytics,
    GroupBy,
)
from shared.pricing import priced
from shared.validation import describe_validation_error, excerpt

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].*)?")


def _iso_8601(value: object) -> object:
    # pydantic also reads a bare number as a Unix time; the API speaks ISO 8601 only.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError(f"'{excerpt(value)}' is not an ISO 8601 date-time (2026-11-01T09:00Z)")
    return value


Moment = Annotated[datetime, BeforeValidator(_iso_8601)]


class AnalyticsQuery(OwnerQuery):
    start: Annotated[
        Moment | None,
        Field(
            alias="from",
            description=f"window start, inclusive (ISO 8601; default: {DEFAULT_WINDOW_DAYS} "
            "days before `to`)",
        ),
    ] = None
    end: Annotated[
        Moment | None,
        Field(alias="to", description="window end, exclusive (ISO 8601; default: now)"),
    ] = None
    group_by: Annotated[
        GroupBy,
        Field(description="version: per agent version ('draft' for none); day: per UTC day"),
    ] = GroupBy.VERSION


@authenticated()
async def agent_analytics(request: Request, principal: Principal) -> Response:
    svc = services(request)
    asked = query(request, AnalyticsQuery)
    try:
        window = AnalyticsWindow.ending(asked.end, asked.start, asked.group_by)
    except ValidationError as exc:
        raise Problem(422, "invalid-window", describe_validation_error(exc)) from None
    ref = path(request, AgentRef).agent_id
    agent = not_archived(await find_agent(svc, principal, ref, asked.owner_id))
    report = await svc.store.call_analytics(agent.id, window)
    return json_response(priced(report, svc.settings.model_prices))


operations = [
    Operation(
        "GET",
        "/api/agents/{agent_id}/analytics",
        agent_analytics,
        "an agent's calls in a window, grouped by version or UTC day: outcomes, durations, "
        "tokens and cost per model, tool errors, grace expiries",
        response=CallAnalytics,
        path_params=AgentRef,
        query=AnalyticsQuery,
        problems=(404, 409, 422),
        description=f"The window is [from, to) by call start, at most {MAX_WINDOW_DAYS} days "
        f"(422 otherwise). Outcomes by end reason: {call_outcomes.described()}; active: not "
        "ended yet. Durations are of ended calls (median and p90, interpolated). cost_usd is "
        "null unless MODEL_PRICES prices every model used.",
    ),
]
