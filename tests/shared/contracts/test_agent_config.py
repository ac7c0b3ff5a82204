from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from shared.contracts import (
    AgentConfig,
    AgentPatch,
    AgentStatus,
    HttpTool,
    NewAgent,
)
from shared.contracts.agent_config import (
    MAX_INSTRUCTIONS,
    MAX_TOOL_SCHEMA_DEPTH,
    MAX_TOOLS,
    NotRunnable,
    check_runnable,
)


def http_tool(**overrides: Any) -> dict[str, Any]:
    tool: dict[str, Any] = {
        "type": "http",
        "name": "book_appointment",
        "description": "Book a slot once the caller confirmed it.",
        "parameters": {
            "type": "object",
            "properties": {"start": {"type": "string", "format": "date-time"}},
            "required": ["start"],
        },
        "method": "POST",
        "url": "https://api.example.com/bookings",
        "headers": {"Authorization": {"secret": "CLINIC_API_TOKEN"}, "Accept": "application/json"},
    }
    return {**tool, **overrides}


def new_agent(**overrides: Any) -> NewAgent:
    values: dict[str, Any] = {
        "owner_id": uuid4(),
        "slug": "clarence-coherence",
        "name": "Clarence Coherence",
        "instructions": "You are Clarence, the front desk of Coherence Dental.",
        "greeting": "Hi, this is Clarence.",
        "tools": [http_tool(), {"type": "builtin", "name": "end_call"}],
    }
    return NewAgent.model_validate({**values, **overrides})


def stored_agent(**overrides: Any) -> AgentConfig:
    now = datetime.now(UTC)
    return AgentConfig.model_validate(
        {
            **new_agent(**overrides).model_dump(mode="json"),
            "id": str(uuid4()),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )


def test_a_complete_config_validates_and_round_trips() -> None:
    stored = stored_agent(status="active")
    assert stored.voice == "marin" and stored.model == "gpt-realtime"
    assert [t.name for t in stored.tools] == ["book_appointment", "end_call"]
    assert AgentConfig.model_validate_json(stored.model_dump_json()) == stored
    assert stored.http_tools[0].headers["Authorization"].secret == "CLINIC_API_TOKEN"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"voice": "darth"}, "unsupported voice 'darth'"),
        ({"model": "gpt-2"}, "unsupported model"),
        ({"slug": "Clarence_Coherence"}, "did you mean 'clarence-coherence'"),
        ({"name": "   "}, "at least 1 character"),
        ({"name": "x" * 81}, "at most 80"),
        ({"instructions": "x" * (MAX_INSTRUCTIONS + 1)}, "at most 20000"),
        ({"greeting": "x" * 1001}, "at most 1000"),
        ({"language": "english"}, "should match pattern"),
        ({"status": "active", "instructions": ""}, "an active agent needs instructions"),
        ({"status": "deleted"}, "'draft', 'active' or 'archived'"),
        ({"tools": [{"type": "builtin", "name": "end_call"}] * 2}, "unique: end_call"),
        ({"tools": [{"type": "builtin", "name": "end_call"}] * (MAX_TOOLS + 1)}, "at most 16"),
        ({"tools": [{"type": "shell", "name": "rm"}]}, "does not match any of the expected tags"),
        ({"unknown_field": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_configs_are_refused_with_a_reason(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        new_agent(**overrides)


def nested_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Book Appointment"}, "should match pattern"),
        # pydantic's `pattern` is a Rust regex: its `$` is the end of the text, no newline.
        ({"name": "book_appointment\n"}, "should match pattern"),
        ({"headers": {"X-Key\n": "v"}}, "should match pattern"),
        ({"headers": {"Authorization": {"secret": "TOKEN\n"}}}, "should match pattern"),
        ({"url": "ftp://example.com/x"}, "URL scheme should be 'http' or 'https'"),
        ({"url": "not a url"}, "valid URL"),
        ({"method": "TRACE"}, "'GET', 'POST', 'PUT', 'PATCH' or 'DELETE'"),
        ({"timeout_s": 60}, "less than or equal to 30"),
        ({"description": ""}, "at least 1 character"),
        ({"parameters": {"type": "array"}}, '"type": "object"'),
        (
            {"parameters": {"type": "object", "properties": {"a": {"type": "nope"}}}},
            "not valid JSON Schema",
        ),
        ({"parameters": {"type": "object", "description": "x" * 9000}}, "larger than 8192"),
        ({"headers": {"Authorization": {"secret": "lowercase"}}}, "should match pattern"),
        ({"headers": {"Bad Header": "x"}}, "should match pattern"),
        ({"parameters": {"type": "object", "maximum": math.inf}}, "holds inf; numbers must be"),
        ({"parameters": {"type": "object", "minimum": -math.inf}}, "holds -inf"),
        ({"parameters": {"type": "object", "maximum": math.nan}}, "holds nan"),
        ({"parameters": {"type": "object", "maximum": 10**100}}, "at most 100 digits"),
        ({"parameters": {"type": "object", "description": "a\x00b"}}, "U\\+0000"),
        ({"parameters": nested_schema(MAX_TOOL_SCHEMA_DEPTH)}, "nested more than 16 levels"),
        ({"parameters": nested_schema(300)}, "nested more than 16 levels"),
        ({"parameters": nested_schema(3000)}, "nested more than 16 levels"),
    ],
)
def test_malformed_http_tools_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HttpTool.model_validate(http_tool(**overrides))


def test_a_schema_within_the_depth_cap_is_accepted() -> None:
    # 1 + 2 * 7 = 15 container levels: objects of objects seven deep.
    tool = HttpTool.model_validate(http_tool(parameters=nested_schema(7)))
    assert tool.parameters == nested_schema(7)


def test_patch_is_validated_on_the_merged_result() -> None:
    draft = stored_agent(instructions="")
    assert AgentPatch(voice="cedar").changes() == {"voice": "cedar"}
    with pytest.raises(ValidationError, match="an active agent needs instructions"):
        draft.with_changes(AgentPatch(status=AgentStatus.ACTIVE))
    active = draft.with_changes(AgentPatch(status=AgentStatus.ACTIVE, instructions="Be kind."))
    assert active.status is AgentStatus.ACTIVE and active.voice == draft.voice
    with pytest.raises(ValidationError, match="unsupported voice"):
        AgentPatch(voice="robot")


def test_an_active_agent_runs_its_versions_a_draft_only_its_draft_an_archived_nothing() -> None:
    active = stored_agent(status="active").model_copy(update={"published_version": 3})
    assert check_runnable(active) == 3
    # A test call runs what it names: an older version, or the working draft.
    assert check_runnable(active, 1) == 1
    assert check_runnable(active, "draft") == "draft"
    archived = active.model_copy(update={"status": AgentStatus.ARCHIVED})
    versions: tuple[int | Literal["draft"] | None, ...] = (None, 1, "draft")
    for version in versions:
        with pytest.raises(NotRunnable, match=f"agent {active.slug} is archived") as refused:
            check_runnable(archived, version)
        assert refused.value.status is AgentStatus.ARCHIVED and not refused.value.unpublished
    # A draft-status agent runs its working draft (a test call), nothing published.
    draft = active.model_copy(update={"status": AgentStatus.DRAFT, "published_version": None})
    assert check_runnable(draft, "draft") == "draft"
    for version in (None, 1):
        with pytest.raises(NotRunnable, match="version=draft") as refused:
            check_runnable(draft, version)
        assert refused.value.status is AgentStatus.DRAFT and not refused.value.unpublished
    unpublished = active.model_copy(update={"published_version": None})
    with pytest.raises(NotRunnable, match="no published version") as refused:
        check_runnable(unpublished)
    assert refused.value.unpublished
    assert check_runnable(unpublished, "draft") == "draft"


# A tool description's non-blank rule, as the validator applies it and as the JSON Schema (the
# API's document, what schemathesis generates valid bodies from) states it.
BLANK = ["", " ", "\u000b", "\u00a0", "\t\n\r", "\u2028", "\u3000 \u205f", "\u200a\u1680"]
NOT_BLANK = ["Quote.", " Book a slot. ", "\u00a0x\u00a0", "\u200b", "\u001c", "ß"]


def test_a_tool_descriptions_schema_refuses_exactly_the_blank_ones() -> None:
    schema = HttpTool.model_json_schema()["properties"]["description"]
    assert "pattern" in schema  # not only minLength: " " is one character and still blank
    checker = Draft202012Validator(schema)
    for text in BLANK + NOT_BLANK:
        try:
            HttpTool.model_validate(http_tool(description=text))
            accepted = True
        except ValidationError:
            accepted = False
        assert checker.is_valid(text) is accepted, repr(text)
        assert accepted is (text in NOT_BLANK), repr(text)
