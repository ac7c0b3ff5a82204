"""Schemathesis hooks for tests/backend/test_openapi_fuzz.py (loaded via SCHEMATHESIS_HOOKS).

A few rules of an agent body cannot be stated in JSON Schema, so a body generated as valid may
still break them; such positive cases are dropped here, one named rule at a time (each rule has
tests of its own in tests/backend/test_agents.py and tests/shared/contracts):

- tool names are unique within an agent;
- a tool's `parameters` is itself a valid JSON Schema of at most MAX_TOOL_SCHEMA_BYTES;
- a tool URL does not name an internal address (the guard Voxie and the API share);
- no string holds U+0000 (Postgres cannot store it): the document says so on every typed
  string, but free-form values (a tool's `parameters`) have no schema to say it in.

Nothing else is filtered: every other disagreement between document and API fails the run.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from shared.addresses import is_internal
from shared.contracts.agent_config import MAX_TOOL_SCHEMA_BYTES


def _breaks_an_unstatable_rule(tools: list[Any]) -> bool:
    names = [tool.get("name") for tool in tools if isinstance(tool, dict)]
    if len(names) != len(set(map(str, names))):
        return True
    for tool in tools:
        if not isinstance(tool, dict):
            continue
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
