"""`GET /api/me`: who the bearer token makes the caller, so the dashboard shows the operator's
pages to the operator only (the API refuses them to users either way).

    {"user_id": "9b1d2c3e-0000-4000-8000-00000000a11c", "operator": false}
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import Principal
from backend.http import authenticated, json_response
from backend.operations import Operation


class Me(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UUID | None = Field(description="the user's id; null for the operator")
    operator: bool


@authenticated()
async def me(_: Request, principal: Principal) -> Response:
    return json_response(Me(user_id=principal.user_id, operator=principal.is_operator))


operations = [
    Operation("GET", "/api/me", me, "the caller: a user's id, or the operator", response=Me)
]
