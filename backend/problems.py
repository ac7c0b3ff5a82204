"""Errors as RFC 9457 problem details (`application/problem+json`), each with the request id.

Handlers raise `Problem` (or let a store / LiveKit error escape); the exception handlers in
`create_app` render it. Bad input is 400/404/409/413/415/422 with a `detail` a person can act on;
an outage of a dependency is 503 with `Retry-After`; a 500 means a bug.

Example body:

    {"type": "urn:voxie:problem:stale-version", "title": "Conflict", "status": 409,
     "detail": "agent 3f2b… is at version 4, not 3: it was changed meanwhile",
     "instance": "/api/agents/3f2b…", "request_id": "f1c2…", "current_version": 4}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:voxie:problem:"


class Problem(Exception):
    """An HTTP error the API answers with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = {k: v for k, v in extensions.items() if v is not None}


def bad_request(detail: str, code: str = "bad-request", **extensions: Any) -> Problem:
    return Problem(400, code, detail, **extensions)


def not_found(detail: str, **extensions: Any) -> Problem:
    return Problem(404, "not-found", detail, **extensions)


def unprocessable(detail: str, **extensions: Any) -> Problem:
    return Problem(422, "invalid-body", detail, **extensions)


def unavailable(code: str, detail: str, retry_after_s: int = 5) -> Problem:
    return Problem(503, code, detail, headers={"Retry-After": str(retry_after_s)})


def problem_response(request: Request | None, problem: Problem, instance: str = "") -> Response:
    status = HTTPStatus(problem.status)
    body: dict[str, Any] = {
        "type": f"{TYPE_PREFIX}{problem.code}",
        "title": status.phrase,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path if request is not None else instance,
        "request_id": request_id_of(request),
        **problem.extensions,
    }
    return Response(
        json.dumps(body, default=str),
        status_code=problem.status,
        headers=problem.headers,
        media_type=MEDIA_TYPE,
    )


def request_id_of(request: Request | None) -> str | None:
    if request is None:
        return None
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else None
