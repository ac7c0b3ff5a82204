"""Request parsing at the edge: bounded bodies, typed path and query values, the caller, JSON out.

Everything a client sends is checked here, by the models its operation declares
(`backend.operations`), before a handler acts on it, and every refusal is a problem document
that says what to fix.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar, overload
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, WithJsonSchema
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import Principal, forbidden
from backend.operations import Access
from backend.problems import Problem, bad_request, unprocessable
from backend.services import Services
from shared import portable_json
from shared.contracts.versions import DRAFT, MAX_VERSION, RunTarget, VersionNumber
from shared.store.base import MAX_PAGE_OFFSET, MAX_PAGE_SIZE
from shared.validation import describe_validation_error, excerpt

M = TypeVar("M", bound=BaseModel)

Endpoint = Callable[[Request], Awaitable[Response]]
AuthedEndpoint = Callable[[Request, Principal], Awaitable[Response]]


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


# Why not Starlette's AuthenticationMiddleware and `requires`: the middleware authenticates every
# request before routing, but LiveKit's webhook carries its own signature in the Authorization
# header (no Bearer scheme), and 404/405 answers would turn into 401s; `requires` can only raise
# a bare HTTPException, which cannot carry the reason-specific 401 problem (detail and
# WWW-Authenticate) or the 503 of an unreachable identity provider. Resolving the caller in the
# endpoint keeps both, and the mark it leaves (`access`) is what the OpenAPI document reads.
def authenticated(
    *, operator: bool = False, signed_in: str | None = None
) -> Callable[[AuthedEndpoint], Endpoint]:
    """Resolves the caller before the handler runs; `operator=True` admits only the operator;
    `signed_in` (the sentence an API key is refused with) admits users and the operator but
    no API key: what a key must never do, such as minting or revoking keys."""

    def wrap(handler: AuthedEndpoint) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            principal = await services(request).auth.authenticate(
                request.headers.get("authorization")
            )
            if operator and not principal.is_operator:
                raise forbidden("this endpoint is for the operator token only")
            if signed_in is not None and principal.api_key_id is not None:
                raise forbidden(signed_in)
            return await handler(request, principal)

        access = Access.OPERATOR if operator else Access.SIGNED_IN if signed_in else Access.USER
        endpoint.access = access  # type: ignore[attr-defined]
        return endpoint

    return wrap


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it is longer than BACKEND_MAX_BODY_BYTES, and with
    415 unless it is sent as JSON (`is_json`). Every body the API reads is JSON: a form or a
    text/plain body must not be taken for it, since a browser sends those cross-site without a
    CORS preflight (only JSON's content type needs one). No body at all is no body, whatever
    its Content-Type: a bodyless POST stays one."""
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
    body = b"".join(chunks)
    content_type = request.headers.get("content-type")
    if body and not is_json(content_type):
        raise not_json(content_type)
    return body


def too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", f"the request body is larger than {limit} bytes")


JSON_MEDIA_TYPE = "application/json"


def is_json(content_type: str | None) -> bool:
    """`application/json` or a `+json` type (`application/webhook+json`, LiveKit's), with any
    parameters (`; charset=utf-8`)."""
    if content_type is None:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    structured = subtype.endswith("+json") and len(subtype) > len("+json")
    return kind == "application" and (subtype == "json" or structured)


def not_json(content_type: str | None) -> Problem:
    sent = f"'{excerpt(content_type)}'" if content_type is not None else "none"
    return Problem(
        415,
        "unsupported-media-type",
        f"the body must be JSON sent as Content-Type: {JSON_MEDIA_TYPE} (this request's "
        f"Content-Type: {sent})",
        expected=JSON_MEDIA_TYPE,
    )


def parse_json(body: bytes) -> Any:
    """The one JSON reader of every endpoint that reads JSON: only portable JSON (finite
    numbers, safe integers, bounded depth) gets past here, so nothing a handler stores can
    change on the way to the database or fail to read back."""
    try:
        return portable_json.loads(body)
    except portable_json.NotPortable as exc:
        raise bad_request(str(exc), code="invalid-json") from None


@overload
async def read_model(request: Request, model: type[M]) -> M: ...
@overload
async def read_model(request: Request, model: type[M], *, optional: Literal[True]) -> M | None: ...
async def read_model(request: Request, model: type[M], *, optional: bool = False) -> M | None:
    """The body validated by `model` — the model the operation declares as its request body —
    in pydantic's strict JSON mode, so a value of the wrong JSON type is refused, not coerced
    (`"true"` is not a boolean, `1` is not a string). No body at all is None if `optional`."""
    body = await read_body(request)
    if not body.strip():
        if optional:
            return None
        raise bad_request("a JSON body is required", code="invalid-json")
    if not isinstance(parse_json(body), dict):
        raise unprocessable("the body must be a JSON object")
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise unprocessable(describe_validation_error(exc)) from None


def query(request: Request, model: type[M]) -> M:
    """The query string validated by `model` (the operation's declared query parameters);
    unknown parameters are ignored, a declared one given twice is refused."""
    values: dict[str, str] = {}
    for field_name, field in model.model_fields.items():
        name = field.alias or field_name  # `from` is a keyword: its field has an alias
        given = request.query_params.getlist(name)
        if len(given) > 1:
            raise bad_request(f"query parameter {name} is given more than once")
        if given:
            values[name] = given[0]
    return _parameters(model, values, "query parameter ")


def path(request: Request, model: type[M]) -> M:
    """The path parameters validated by `model` (the operation's declared ones)."""
    return _parameters(model, dict(request.path_params), "")


def _parameters(model: type[M], values: dict[str, str], what: str) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        detail = f"{what}{describe_validation_error(exc)}"
        raise bad_request(detail, code="invalid-parameter") from None


_UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID_TEXT = re.compile(_UUID_PATTERN)
_INTEGER_TEXT = re.compile(r"-?[0-9]+")


def _uuid_text(value: object) -> object:
    if isinstance(value, str) and not _UUID_TEXT.fullmatch(value):
        raise ValueError(f"'{excerpt(value)}' is not a UUID (8-4-4-4-12 hexadecimal digits)")
    return value


def _integer_text(value: object) -> object:
    if isinstance(value, str) and not _INTEGER_TEXT.fullmatch(value):
        raise ValueError("must be an integer")
    return value


def _boolean_text(value: object) -> object:
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise ValueError("must be true or false")
        return value == "true"
    return value


# What a path segment or query value may be: one definition for the check and the document.
UuidParam = Annotated[
    UUID,
    BeforeValidator(_uuid_text),
    WithJsonSchema({"type": "string", "format": "uuid", "pattern": _UUID_PATTERN}),
]
# After an int's own constraints (`Annotated[int, Field(ge=…), INTEGER_TEXT]`), so they stay in
# its JSON Schema: only decimal digits count as an integer ("1.0", "1_000", " 1" do not).
INTEGER_TEXT = BeforeValidator(_integer_text)
BoolParam = Annotated[bool, BeforeValidator(_boolean_text)]


def _target_text(value: object) -> object:
    if isinstance(value, str) and value != DRAFT and not _DIGITS.fullmatch(value):
        raise ValueError(f"'{excerpt(value)}' is not a version number or 'draft'")
    return value


_DIGITS = re.compile(r"[0-9]+")
_VERSION_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_VERSION}
# An agent version in a path or query: a number from 1 (`VersionParam`), or that or `draft`
# (`TargetParam`: what a test call runs, one side of a diff).
VersionParam = Annotated[VersionNumber, INTEGER_TEXT]
TargetParam = Annotated[
    RunTarget,
    BeforeValidator(_target_text),
    WithJsonSchema({"anyOf": [_VERSION_SCHEMA, {"type": "string", "enum": [DRAFT]}]}),
]


def _whole_number(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# For an integer in a strict JSON body: JSON Schema counts 1.0 as an integer, so the API does.
WHOLE_NUMBER = BeforeValidator(_whole_number)


class PageQuery(BaseModel):
    """The paging parameters every list takes."""

    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE), INTEGER_TEXT] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_PAGE_OFFSET), INTEGER_TEXT] = 0


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
