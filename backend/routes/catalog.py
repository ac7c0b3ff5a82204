"""`GET /api/catalog`: what an agent may choose from, so a form offers exactly what `POST` and
`PATCH /api/agents` accept — the lists come from the contract's own sources (`shared.catalog`
for voices and models, `AgentConfig`'s pipeline and HTTP tool method), so they cannot drift.

    {"voices": [{"name": "marin", "description": "warm, natural and clear; …"}, …],
     "models": ["gpt-realtime", "gpt-realtime-1.5", …],
     "pipelines": ["realtime", "stt-llm-tts"],
     "tool_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
     "default_voice": "marin", "default_model": "gpt-realtime", "default_pipeline": "realtime"}

The same for every caller (any signed-in one: the lists are no secret, but the API has no
anonymous reads beyond health and the dashboard's sign-in mode).
"""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from backend.auth import Principal
from backend.http import authenticated, json_response
from backend.operations import Operation
from shared.catalog import DEFAULT_MODEL, DEFAULT_VOICE, SUPPORTED_MODELS, SUPPORTED_VOICES
from shared.contracts.agent_config import AgentFields, HttpMethod, Model, Pipeline, Voice


class VoiceChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Voice
    description: str = Field(description="the voice's character, in a few words")


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voices: list[VoiceChoice] = Field(description="an agent's `voice` is one of these names")
    models: list[Model] = Field(description="an agent's (realtime) `model` is one of these")
    pipelines: list[Pipeline]
    tool_methods: list[HttpMethod] = Field(description="an HTTP tool's `method` is one of these")
    default_voice: Voice
    default_model: Model
    default_pipeline: Pipeline


def catalog() -> Catalog:
    return Catalog(
        voices=[VoiceChoice(name=n, description=d) for n, d in SUPPORTED_VOICES.items()],
        models=list(SUPPORTED_MODELS),
        pipelines=list(Pipeline),
        tool_methods=list(get_args(HttpMethod)),
        default_voice=DEFAULT_VOICE,
        default_model=DEFAULT_MODEL,
        default_pipeline=AgentFields.model_fields["pipeline"].default,
    )


@authenticated()
async def get_catalog(_: Request, __: Principal) -> Response:
    return json_response(catalog())


operations = [
    Operation(
        "GET",
        "/api/catalog",
        get_catalog,
        "the voices, models, pipelines and tool methods an agent may use",
        response=Catalog,
    )
]
