"""The API's OpenAPI 3.1 document, served at `GET /openapi.json`.

Bodies and results are the contract models' own JSON Schemas (pydantic), so the document cannot
drift from what the handlers accept and return; the paths are listed here beside their routes.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backend.routes.agents import AgentCreate, AgentUpdate
from backend.routes.voxie import VoxieSessionRequest
from shared.contracts import AgentConfig, CallSession, TokenUsage

REF = "#/components/schemas/{model}"
PROBLEM = {"$ref": "#/components/schemas/Problem"}
OBJECT: dict[str, Any] = {"type": "object"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _problems(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": "a problem document (RFC 9457)",
            "content": {"application/problem+json": {"schema": PROBLEM}},
        }
        for status in statuses
    }


def _operation(
    summary: str,
    ok: tuple[int, dict[str, Any]],
    *,
    problems: tuple[int, ...] = (),
    body: dict[str, Any] | None = None,
    body_required: bool = True,
    parameters: list[dict[str, Any]] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    status, schema = ok
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {
            str(status): {"description": "success", **_json(schema)},
            **_problems(*(() if public else (401,)), *problems, 503),
        },
    }
    if public:
        operation["security"] = []
    if body is not None:
        operation["requestBody"] = {"required": body_required, **_json(body)}
        operation["responses"].update(_problems(400, 413, 422))
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
    }


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


PAGING = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
    _query("offset", {"type": "integer", "minimum": 0}),
]
AGENT_ID = _path("agent_id", "the agent's UUID or its slug")


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    }


GRANT = {
    "type": "object",
    "required": ["room_name", "token", "livekit_url"],
    "properties": {
        "room_name": {"type": "string"},
        "token": {"type": "string", "description": "LiveKit join token for this room only"},
        "livekit_url": {"type": "string"},
    },
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        AgentConfig,
        AgentCreate,
        AgentUpdate,
        VoxieSessionRequest,
        CallSession,
        TokenUsage,
    ]
    _, definitions = models_json_schema(
        [(model, "validation") for model in models], ref_template=REF
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    schemas["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "request_id": {"type": ["string", "null"]},
        },
    }
    spawn = {**GRANT, "properties": {**GRANT["properties"], "agent": _ref("AgentConfig")}}  # type: ignore[dict-item]
    paths: dict[str, Any] = {
        "/healthz": {"get": _operation("liveness", (200, OBJECT), public=True)},
        "/readyz": {
            "get": _operation("readiness: store and LiveKit answer", (200, OBJECT), public=True)
        },
        "/metrics": {
            "get": _operation(
                "Prometheus metrics (operator)", (200, {"type": "string"}), problems=(403,)
            )
        },
        "/openapi.json": {"get": _operation("this document", (200, OBJECT))},
        "/api/agents": {
            "get": _operation(
                "the caller's agents (the operator: everyone's), newest first",
                (200, _page("AgentConfig")),
                problems=(400, 403),
                parameters=[
                    *PAGING,
                    _query("include_archived", {"type": "boolean"}),
                    _query("owner_id", {"type": "string", "format": "uuid"}),
                ],
            ),
            "post": _operation(
                "create an agent",
                (201, _ref("AgentConfig")),
                problems=(403, 409),
                body=_ref("AgentCreate"),
            ),
        },
        "/api/agents/{agent_id}": {
            "parameters": [AGENT_ID],
            "get": _operation("one agent", (200, _ref("AgentConfig")), problems=(400, 404)),
            "patch": _operation(
                "change an agent (optimistic: send the version you read)",
                (200, _ref("AgentConfig")),
                problems=(404, 409),
                body=_ref("AgentUpdate"),
            ),
            "delete": _operation(
                "archive an agent", (200, _ref("AgentConfig")), problems=(400, 404)
            ),
        },
        "/api/agents/{agent_id}/spawn": {
            "parameters": [AGENT_ID],
            "post": _operation(
                "open a test call: a room with the agent dispatched, and a join token",
                (201, spawn),
                problems=(404, 409, 429),
                body=OBJECT,
                body_required=False,
            ),
        },
        "/api/voxie/sessions": {
            "post": _operation(
                "open a Voxie session to create an agent (or edit one: agent_id)",
                (201, GRANT),
                problems=(404, 409, 429),
                body=_ref("VoxieSessionRequest"),
                body_required=False,
            )
        },
        "/api/livekit/webhook": {
            "post": _operation(
                "LiveKit's signed webhook",
                (200, OBJECT),
                problems=(401,),
                body=OBJECT,
                public=True,
            )
        },
        "/api/rooms": {"get": _operation("the platform's live rooms", (200, OBJECT))},
        "/api/stats": {"get": _operation("room and capacity figures", (200, OBJECT))},
        "/api/rooms/{room_name}/close": {
            "parameters": [_path("room_name", "a platform room's name")],
            "post": _operation("close a room (operator)", (200, OBJECT), problems=(403, 404)),
        },
        "/api/gc": {
            "post": _operation(
                "run a reconciler pass now (operator)", (200, OBJECT), problems=(403, 409)
            )
        },
        "/api/sessions": {
            "get": _operation(
                "call sessions, newest first",
                (200, _page("CallSession")),
                problems=(400,),
                parameters=[*PAGING, _query("agent_id", {"type": "string", "format": "uuid"})],
            )
        },
        "/api/sessions/{session_id}": {
            "parameters": [_path("session_id", "the session's UUID")],
            "get": _operation(
                "one session with its transcript, summary and usage",
                (200, OBJECT),
                problems=(400, 404),
            ),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Voxie platform API",
            "version": "1",
            "description": "Agents, test calls, Voxie sessions, rooms and sessions. Errors are "
            "RFC 9457 problem documents carrying the request id.",
        },
        "security": [{"bearer": []}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "BACKEND_ADMIN_TOKEN or a Supabase Auth access token",
                }
            },
        },
        "paths": paths,
    }
