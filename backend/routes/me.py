"""`GET /api/me`: who the bearer token makes the caller, so the dashboard shows the operator's
pages to the operator only (the API refuses them to users either way).

    {"user_id": "9b1d2c3e-0000-4000-8000-00000000a11c", "operator": false,
     "owner_id": "9b1d2c3e-0000-4000-8000-00000000a11c"}

`owner_id` is the owner of the agents the caller creates: the user's id, or for the operator
the fixed operator owner, so a page can say "You" without knowing that rule.
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
    owner_id: UUID = Field(description="the owner of agents this caller creates")


@authenticated()
async def me(_: Request, principal: Principal) -> Response:
    return json_response(
        Me(
            user_id=principal.user_id,
            operator=principal.is_operator,
            owner_id=principal.owner_id,
        )
    )


operations = [
    Operation("GET", "/api/me", me, "the caller: a user's id, or the operator", response=Me)
]
