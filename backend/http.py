"""Request parsing at the edge: bounded bodies, typed path and query values, the caller, JSON out.

Everything a client sends is checked here or by a contract model before a handler acts on it,
and every refusal is a problem document that says what to fix.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import Principal, forbidden
from backend.problems import Problem, bad_request, unprocessable
from backend.services import Services
from shared import portable_json
from shared.store import Page
from shared.validation import describe_validation_error

M = TypeVar("M", bound=BaseModel)

Endpoint = Callable[[Request], Awaitable[Response]]
AuthedEndpoint = Callable[[Request, Principal], Awaitable[Response]]


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def authenticated(*, operator: bool = False) -> Callable[[AuthedEndpoint], Endpoint]:
    """Resolves the caller before the handler runs; `operator=True` admits only the operator."""

    def wrap(handler: AuthedEndpoint) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            principal = await services(request).auth.authenticate(
                request.headers.get("authorization")
            )
            if operator and not principal.is_operator:
                raise forbidden("this endpoint is for the operator token only")
            return await handler(request, principal)

        return endpoint

    return wrap


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it is longer than BACKEND_MAX_BODY_BYTES."""
    limit = services(request).settings.backend_max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", f"the request body is larger than {limit} bytes")


async def read_json(request: Request, *, optional: bool = False) -> Any:
    """The body as JSON, for every endpoint that reads JSON: only portable JSON (finite
    numbers, safe integers, bounded depth) gets past here, so nothing a handler stores can
    change on the way to the database or fail to read back."""
    body = await read_body(request)
    if not body.strip():
        if optional:
            return None
        raise bad_request("a JSON body is required", code="invalid-json")
    return parse_json(body)


def parse_json(body: bytes) -> Any:
    try:
        return portable_json.loads(body)
    except portable_json.NotPortable as exc:
        raise bad_request(str(exc), code="invalid-json") from None


def parse(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise unprocessable("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise unprocessable(describe_validation_error(exc)) from None


def path_uuid(request: Request, name: str) -> UUID:
    raw = request.path_params[name]
    try:
        return UUID(raw)
    except ValueError:
        raise bad_request(f"{name} '{raw[:64]}' is not a UUID", code="invalid-id") from None


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"query parameter {name} must be an integer") from None
    if not low <= value <= high:
        raise bad_request(f"query parameter {name} must be between {low} and {high}")
    return value


def query_bool(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise bad_request(f"query parameter {name} must be true or false")
    return raw in ("true", "1")


def query_uuid(request: Request, name: str) -> UUID | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise bad_request(f"query parameter {name} '{raw[:64]}' is not a UUID") from None


def page_body(page: Page[Any]) -> dict[str, Any]:
    """The one shape of a paged list: the items, the total of every page, the page asked for;
    `unreadable` names rows of this page that fail their contract and were left out."""
    body: dict[str, Any] = {
        "items": page.items,
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
    }
    if page.unreadable:
        body["unreadable"] = [str(agent_id) for agent_id in page.unreadable]
    return body


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(_jsonable(data), separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, dict):
        return {key: _jsonable(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_jsonable(item) for item in data]
    if isinstance(data, UUID):
        return str(data)
    return data
