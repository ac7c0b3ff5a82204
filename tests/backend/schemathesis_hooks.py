"""Schemathesis hooks for tests/backend/test_openapi_fuzz.py (loaded via SCHEMATHESIS_HOOKS).

A few rules of an agent body cannot be stated in JSON Schema, so a body generated as valid may
still break them; such positive cases are dropped here, one named rule at a time (each rule has
tests of its own in tests/backend/test_agents.py and tests/shared/contracts):

- tool names are unique within an agent;
- a tool's `parameters` is itself a valid JSON Schema of at most MAX_TOOL_SCHEMA_BYTES;
- a tool URL does not name an internal address (the guard Voxie and the API share);
- a header's secret is one the agent's owner stored, bound to the tool's host (the fuzzed
  caller has none: tests/backend/test_secrets.py tests the rule);
- no string holds U+0000 (Postgres cannot store it): the document says so on every typed
  string, but free-form values (a tool's `parameters`) have no schema to say it in.

One rule of a query cannot be stated either: an analytics window (`from`, `to`) ends after it
starts and spans at most 366 days. A valid case that breaks it gets `to` one day after `from`
(or `from` one day before `to`), so the case still reaches the query (tests/backend/
test_analytics.py tests the refusals).

Nothing else is filtered: every other disagreement between document and API fails the run.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from backend.routes.analytics import AnalyticsQuery
from shared.addresses import is_internal
from shared.contracts.agent_config import MAX_TOOL_SCHEMA_BYTES
from shared.contracts.analytics import AnalyticsWindow


def _breaks_an_unstatable_rule(tools: list[Any]) -> bool:
    names = [tool.get("name") for tool in tools if isinstance(tool, dict)]
    if len(names) != len(set(map(str, names))):
        return True
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        headers = tool.get("headers")
        if isinstance(headers, dict) and any(isinstance(v, dict) for v in headers.values()):
            return True
        parameters = tool.get("parameters")
        if isinstance(parameters, dict):
            if len(json.dumps(parameters).encode()) > MAX_TOOL_SCHEMA_BYTES:
                return True
            try:
                Draft202012Validator.check_schema(parameters)
            except SchemaError:
                return True
        host = urlsplit(str(tool.get("url", ""))).hostname or ""
        try:
            if is_internal(ipaddress.ip_address(host.split("%", 1)[0])):
                return True
        except ValueError:
            pass  # a name: the test's resolver gives every name a public address
    return False


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> bool:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return True
    body = case.body
    if isinstance(body, dict | list | str) and "\\u0000" in json.dumps(body):
        return False
    tools = body.get("tools") if isinstance(body, dict) else None
    if isinstance(tools, list):
        return not _breaks_an_unstatable_rule(tools)
    return True


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> Any:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if not case.operation.path.endswith("/analytics") or not isinstance(case.query, dict):
        return case
    try:
        asked = AnalyticsQuery.model_validate(case.query)
    except ValidationError:
        return case  # a value the document allows and the API refuses: let the run say so
    try:
        AnalyticsWindow.ending(asked.end, asked.start, asked.group_by)
    except ValidationError:
        window = AnalyticsWindow.ending(asked.end, None, asked.group_by)
        if asked.start is not None and asked.start.year < 9999:
            case.query["to"] = (asked.start + timedelta(days=1)).isoformat()
        else:
            case.query["from"] = window.start.isoformat()
    return case
