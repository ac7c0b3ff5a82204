"""The API's operations, declared once: method, path, who may call, and the models that validate
the request and shape the response. Both the routes and the OpenAPI document (`GET
/openapi.json`) are built from the same list, so the document says what the handlers check:
a handler validates with exactly the models its operation names (`backend.http.parse`,
`query`, `path`), and the schemas are those models' own JSON Schemas.

Starlette matches a request to the first route whose path fits; one route per path (with a
dispatch by method) makes a 405 name every method the path supports in `Allow`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.bodies import Problem

if TYPE_CHECKING:
    from pydantic._internal._dataclasses import PydanticDataclass

Endpoint = Callable[[Request], Awaitable[Response]]
REF = "#/components/schemas/{model}"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class Access(StrEnum):
    """Who may call an operation; `backend.http.authenticated` marks the endpoint with it."""

    PUBLIC = "public"
    USER = "user"  # any caller: a Supabase user, a user's API key, or the operator
    SIGNED_IN = "signed-in"  # a Supabase user or the operator, never an API key
    OPERATOR = "operator"
    LIVEKIT = "livekit"  # LiveKit's signed webhook


SECURITY: dict[Access, list[dict[str, list[str]]]] = {
    Access.PUBLIC: [],
    Access.USER: [{"bearer": []}],
    Access.SIGNED_IN: [{"bearer": []}],
    Access.OPERATOR: [{"bearer": []}],
    Access.LIVEKIT: [{"livekit": []}],
}


def access_of(endpoint: Endpoint) -> Access:
    found: Access = getattr(endpoint, "access", Access.PUBLIC)
    return found


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    endpoint: Endpoint
    summary: str
    # The success status and its body's model (None: no body, as for 204).
    ok: int = 200
    response: type[BaseModel] | None = None
    media_type: str = "application/json"
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    path_params: type[BaseModel] | None = None
    # Statuses beyond those the access, body and parameters imply.
    problems: tuple[int, ...] = ()
    description: str = ""
    links: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def access(self) -> Access:
        return access_of(self.endpoint)

    @property
    def operation_id(self) -> str:
        return self.endpoint.__name__

    def statuses(self) -> list[int]:
        found = set(self.problems)
        if self.access in (Access.USER, Access.SIGNED_IN, Access.OPERATOR, Access.LIVEKIT):
            # 503: the identity provider's keys (users) or LiveKit (webhooks) are unreachable,
            # or API keys are not configured.
            found |= {401, 503}
        if self.access in (Access.OPERATOR, Access.SIGNED_IN):
            found.add(403)
        if self.body is not None:
            # 415: a body not sent as JSON (`backend.http.read_body`).
            found |= {400, 413, 415, 422}
        if self.query is not None or self.path_params is not None:
            found.add(400)
        return sorted(found)


def routes(operations: Sequence[Operation]) -> list[Route]:
    """One route per path; its methods are exactly the operations declared on it."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for op in operations:
        methods = by_path.setdefault(op.path, {})
        assert op.method not in methods, f"{op.method} {op.path} is declared twice"
        methods[op.method] = op.endpoint
    return [
        Route(path, _dispatch(methods), methods=list(methods)) for path, methods in by_path.items()
    ]


def _dispatch(methods: dict[str, Endpoint]) -> Endpoint:
    if len(methods) == 1:
        return next(iter(methods.values()))

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await methods[method](request)

    dispatch.__name__ = "_".join(endpoint.__name__ for endpoint in methods.values())
    return dispatch


def openapi_document(operations: Iterable[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations`, every schema from their models."""
    operations = list(operations)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for op in operations:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    refs, definitions = models_json_schema(_unique(models), ref_template=REF)
    _storable_strings(definitions)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Voxie platform API",
            "version": "1",
            "description": "Agents, test calls, Voxie sessions, rooms and sessions. Errors are "
            "RFC 9457 problem documents (`application/problem+json`) carrying the request id.",
        },
        "security": [{"bearer": []}],
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "BACKEND_ADMIN_TOKEN, a Supabase Auth access token, or "
                    "an owner's API key (vx_live_…, POST /api/keys), which acts as its owner "
                    "on every route but the operator's and key management",
                },
                "livekit": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "LiveKit's webhook signature: a JWT signed with the API "
                    "secret carrying the body's SHA-256",
                },
            },
        },
        "paths": paths,
    }


Refs: TypeAlias = (
    "dict[tuple[type[BaseModel] | type[PydanticDataclass], JsonSchemaMode], dict[str, Any]]"
)


def _unique(
    models: list[tuple[type[BaseModel], JsonSchemaMode]],
) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    return list(dict.fromkeys(models))


def _operation(op: Operation, refs: Refs) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        schema = refs[(op.response, "serialization")]
        ok["content"] = {op.media_type: {"schema": schema}}
    elif op.ok != 204:
        ok["content"] = {op.media_type: {"schema": {"type": "string"}}}
    if op.links:
        ok["links"] = op.links
    problem = {"schema": refs[(Problem, "serialization")]}
    responses: dict[str, Any] = {str(op.ok): ok}
    for status in op.statuses():
        responses[str(status)] = {
            "description": "a problem document (RFC 9457)",
            "content": {PROBLEM_MEDIA_TYPE: problem},
        }
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "responses": responses,
    }
    if op.description:
        document["description"] = op.description
    document["security"] = SECURITY[op.access]
    parameters = [
        *_parameters(op.path_params, "path"),
        *_parameters(op.query, "query"),
    ]
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        document["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    return document


def without_null(prop: dict[str, Any]) -> None:
    """Makes an optional field's schema non-nullable: left out is allowed, null is not (a
    query parameter cannot be null, and the API's PATCH refuses null)."""
    options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1:
        prop.update(options[0])
    elif options:
        prop["anyOf"] = options
    if "default" in prop and prop["default"] is None:
        del prop["default"]


def _storable_strings(schema: Any) -> None:
    """States the JSON reader's rule on every string a model types: no U+0000 (Postgres cannot
    store it). Anchored patterns, formats and enums already exclude it."""
    if isinstance(schema, dict):
        pattern = schema.get("pattern", "")
        anchored = pattern.startswith("^") and pattern.endswith("$")
        excluded = anchored or {"not", "enum", "const", "format"} & schema.keys()
        if schema.get("type") == "string" and not excluded:
            schema["not"] = {"pattern": "\\x00"}
        for value in schema.values():
            _storable_strings(value)
    elif isinstance(schema, list):
        for item in schema:
            _storable_strings(item)


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with each `$ref` to the model's own `$defs` (an enum such as SessionKind)
    replaced by the definition: a parameter's schema stands alone, and `#/$defs/...` would
    point nowhere in the OpenAPI document."""
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/"):
        target = definitions[ref.removeprefix("#/$defs/")]
        target = {k: v for k, v in target.items() if k != "title"}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return _inlined({**target, **rest}, definitions)
    return {key: _inlined(value, definitions) for key, value in schema.items()}


def _parameters(model: type[BaseModel] | None, where: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    definitions = schema.get("$defs", {})
    found = []
    for name, prop in schema.get("properties", {}).items():
        prop = _inlined(prop, definitions)
        prop = {k: v for k, v in prop.items() if k not in ("title", "description")}
        without_null(prop)
        parameter: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": prop,
        }
        description = fields[name].description
        if description:
            parameter["description"] = description
        found.append(parameter)
    return found
