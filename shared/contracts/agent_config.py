"""AgentConfig: the agent definition Voxie writes and the spawner runs.

Writer: Voxie (by conversation) and the backend (`POST/PATCH /api/agents`), through the store.
Readers: the spawner (to build the Agent and AgentSession), the backend, the dashboard.
Validated on both sides: a row that fails validation is never run.

Example (as stored in `agents`, as returned by the API):

    {
      "id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44",
      "owner_id": "9b1d2c3e-0000-4000-8000-00000000a11c",
      "slug": "clarence-coherence",
      "name": "Clarence Coherence",
      "instructions": "You are Clarence, the front desk of Coherence Dental ...",
      "greeting": "Hi, this is Clarence from Coherence Dental. How can I help?",
      "voice": "marin",
      "model": "gpt-realtime",
      "language": "en",
      "tools": [
        {"type": "http", "name": "book_appointment",
         "description": "Book a slot. Call only after the caller confirmed date and time.",
         "parameters": {"type": "object",
                        "properties": {"start": {"type": "string", "format": "date-time"}},
                        "required": ["start"]},
         "method": "POST", "url": "https://api.example.com/bookings",
         "headers": {"Authorization": {"secret": "CLINIC_API_TOKEN"}}, "timeout_s": 10},
        {"type": "builtin", "name": "end_call"}
      ],
      "pipeline": "realtime",
      "summarize": true,
      "status": "active",
      "version": 3,
      "published_version": 2,
      "has_unpublished_changes": true,
      "created_at": "2026-11-21T09:00:00Z",
      "updated_at": "2026-11-21T09:05:00Z"
    }
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared import portable_json
from shared.catalog import (
    DEFAULT_MODEL,
    DEFAULT_VOICE,
    SUPPORTED_MODELS,
    SUPPORTED_VOICES,
    check_supported,
)
from shared.naming import (
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    SLUG_UUID_FORM_PATTERN,
    InvalidSlug,
    validate_slug,
)

MAX_NAME = 80
MAX_INSTRUCTIONS = 20_000
MAX_GREETING = 1_000
MAX_TOOLS = 16
MAX_TOOL_DESCRIPTION = 1_024
MAX_TOOL_SCHEMA_BYTES = 8_192
# Container levels of a tool's parameters schema: room for objects of arrays of objects, and a
# bound for the validators that walk it recursively (hundreds of levels would exhaust the stack).
MAX_TOOL_SCHEMA_DEPTH = 16
MAX_HEADERS = 16


class Pipeline(StrEnum):
    """How the agent hears and speaks: one realtime speech model, or STT → LLM → TTS."""

    REALTIME = "realtime"
    STT_LLM_TTS = "stt-llm-tts"


class AgentStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


def _canonical_slug(value: str) -> str:
    try:
        return validate_slug(value)
    except InvalidSlug as exc:
        raise ValueError(str(exc)) from exc


def _supported_voice(value: str) -> str:
    return check_supported("voice", value, SUPPORTED_VOICES)


def _supported_model(value: str) -> str:
    return check_supported("model", value, SUPPORTED_MODELS)


# Not blank once stripped (pydantic strips Unicode White_Space): the schema form of min_length=1.
NOT_BLANK = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

# The JSON Schemas say what the validators check, for the API's document (`/openapi.json`).
Slug = Annotated[
    str,
    AfterValidator(_canonical_slug),
    Field(
        json_schema_extra={
            "pattern": SLUG_PATTERN,
            "maxLength": SLUG_MAX_LENGTH,
            "not": {"pattern": SLUG_UUID_FORM_PATTERN},
        }
    ),
]
Voice = Annotated[
    str, AfterValidator(_supported_voice), Field(json_schema_extra={"enum": [*SUPPORTED_VOICES]})
]
Model = Annotated[
    str, AfterValidator(_supported_model), Field(json_schema_extra={"enum": [*SUPPORTED_MODELS]})
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME),
    Field(json_schema_extra={"pattern": NOT_BLANK}),
]
Instructions = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_INSTRUCTIONS)]
Greeting = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_GREETING)]
# BCP 47 primary language with an optional region: "en", "en-US", "pt-BR".
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
ToolName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,127}$")]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class SecretRef(BaseModel):
    """A header value taken at call time from the named secret, never stored in the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    secret: SecretName


def _type_required(schema: dict[str, Any]) -> None:
    # In a list of tools `type` picks the kind (the discriminator): it may not be left out there.
    schema["required"] = ["type", *schema.get("required", [])]


class HttpTool(BaseModel):
    """A business action the agent performs by calling an HTTP endpoint."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_type_required)
    type: Literal["http"] = "http"
    name: ToolName
    description: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TOOL_DESCRIPTION),
        Field(json_schema_extra={"pattern": NOT_BLANK}),
    ]
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="a JSON Schema (draft 2020-12) of type object, at most "
        f"{MAX_TOOL_SCHEMA_BYTES} bytes and {MAX_TOOL_SCHEMA_DEPTH} levels deep",
        json_schema_extra={
            "required": ["type"],
            "properties": {
                "type": {"const": "object"},
                "properties": {
                    "type": "object",
                    "additionalProperties": {"type": ["object", "boolean"]},
                },
                "required": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            },
        },
    )
    method: HttpMethod = "POST"
    url: Annotated[HttpUrl, Field(json_schema_extra={"pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"})]
    headers: dict[HeaderName, Annotated[str, StringConstraints(max_length=1024)] | SecretRef] = (
        Field(
            default_factory=dict,
            max_length=MAX_HEADERS,
            json_schema_extra={"additionalProperties": False},  # names match HeaderName or fail
        )
    )
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 10.0

    @field_validator("parameters")
    @classmethod
    def _json_schema_object(cls, schema: dict[str, Any]) -> dict[str, Any]:
        # Depth and portability first: both later checks recurse, and a non-finite number
        # would be written as null (pydantic's JSON mode) and no longer be the schema checked.
        try:
            text = portable_json.dumps(
                schema, max_depth=MAX_TOOL_SCHEMA_DEPTH, where="the parameters schema"
            )
        except portable_json.NotPortable as exc:
            raise ValueError(str(exc)) from None
        if len(text.encode()) > MAX_TOOL_SCHEMA_BYTES:
            raise ValueError(f"the parameters schema is larger than {MAX_TOOL_SCHEMA_BYTES} bytes")
        if schema.get("type") != "object":
            raise ValueError('the parameters schema must be a JSON Schema with "type": "object"')
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(
                f"the parameters schema is not valid JSON Schema: {exc.message}"
            ) from exc
        return schema


class BuiltinTool(BaseModel):
    """A tool the platform implements itself."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_type_required)
    type: Literal["builtin"] = "builtin"
    name: Literal["end_call"]


ToolSpec = Annotated[HttpTool | BuiltinTool, Field(discriminator="type")]


def _active_needs_instructions(schema: dict[str, Any]) -> None:
    # `_active_is_runnable` below, for the JSON Schema.
    schema["if"] = {"properties": {"status": {"const": "active"}}, "required": ["status"]}
    schema["then"] = {
        "properties": {"instructions": {"pattern": NOT_BLANK}},
        "required": ["instructions"],
    }


class AgentFields(BaseModel):
    """The fields a user (through Voxie or the API) may set."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_active_needs_instructions
    )

    slug: Slug
    name: Name
    instructions: Instructions = ""
    greeting: Greeting = ""
    voice: Voice = DEFAULT_VOICE
    model: Model = DEFAULT_MODEL
    language: Language = "en"
    tools: list[ToolSpec] = Field(default_factory=list, max_length=MAX_TOOLS)
    pipeline: Pipeline = Pipeline.REALTIME
    # A short summary of each call, written by a cheap text model at the end.
    summarize: bool = False
    status: AgentStatus = AgentStatus.DRAFT

    @field_validator("tools")
    @classmethod
    def _unique_tool_names(
        cls, tools: list[HttpTool | BuiltinTool]
    ) -> list[HttpTool | BuiltinTool]:
        names = [tool.name for tool in tools]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"tool names must be unique: {', '.join(duplicates)} repeated")
        return tools

    @model_validator(mode="after")
    def _active_is_runnable(self) -> AgentFields:
        if self.status is AgentStatus.ACTIVE and not self.instructions:
            raise ValueError("an active agent needs instructions")
        return self


class NewAgent(AgentFields):
    """What a create call supplies; the store assigns id, version and timestamps."""

    owner_id: UUID


class AgentPatch(BaseModel):
    """A partial update; fields left unset keep their stored value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: Slug | None = None
    name: Name | None = None
    instructions: Instructions | None = None
    greeting: Greeting | None = None
    voice: Voice | None = None
    model: Model | None = None
    language: Language | None = None
    tools: list[ToolSpec] | None = Field(default=None, max_length=MAX_TOOLS)
    pipeline: Pipeline | None = None
    summarize: bool | None = None
    status: AgentStatus | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class AgentConfig(AgentFields):
    """A stored agent, as the spawner runs it."""

    id: UUID
    owner_id: UUID
    version: Annotated[int, Field(ge=1)]
    created_at: datetime
    updated_at: datetime
    # Which `agent_versions` snapshot a plain call runs (None: nothing published yet), and
    # whether the draft differs from it; both kept by the database (the versions migration).
    published_version: Annotated[int, Field(ge=1)] | None = None
    has_unpublished_changes: bool = True

    def with_changes(self, patch: AgentPatch) -> AgentConfig:
        """The config after `patch`, validated as a whole (e.g. activating needs instructions)."""
        return AgentConfig.model_validate({**self.model_dump(mode="json"), **patch.changes()})

    @property
    def http_tools(self) -> list[HttpTool]:
        return [tool for tool in self.tools if isinstance(tool, HttpTool)]


class NotRunnable(ValueError):
    """The agent may not run a call; `status` is why (archived, still a draft, or active with
    nothing published: `unpublished`)."""

    def __init__(self, agent: AgentConfig) -> None:
        self.unpublished = False
        if agent.status is AgentStatus.ARCHIVED:
            message = f"agent {agent.slug} is archived and cannot run"
        elif agent.status is not AgentStatus.ACTIVE:
            message = (
                f"agent {agent.slug} is a {agent.status.value}; set its status to active to run "
                "it (a test call of its draft, version=draft, runs it as it is)"
            )
        else:
            self.unpublished = True
            message = f"agent {agent.slug} has no published version; publish it to run it"
        super().__init__(message)
        self.status = agent.status


def check_runnable(
    agent: AgentConfig, version: int | Literal["draft"] | None = None
) -> int | Literal["draft"]:
    """The one rule of which agents run a call, and what they run (the backend before it opens
    a room, the spawner before it runs one). An archived agent never runs. `version` is what a
    test call asked for — a version number or `"draft"` (the working draft, heard before it is
    published) — and is what runs; a plain call (None) runs the published version. A published
    version (named, or the plain call's) runs only for an active agent; the working draft runs
    for a draft-status one too, so a new agent can be heard before it is activated (which
    publishes version 1). Returns what runs."""
    if agent.status is AgentStatus.ARCHIVED:
        raise NotRunnable(agent)
    if version == "draft":
        return version
    if agent.status is not AgentStatus.ACTIVE:
        raise NotRunnable(agent)
    if version is not None:
        return version
    if agent.published_version is None:
        raise NotRunnable(agent)
    return agent.published_version
