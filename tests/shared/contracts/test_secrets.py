"""The binding rule: which hosts a secret may be sent to, and which tool references pass."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts import AgentFields
from shared.contracts.secrets import (
    EgressUpdate,
    SecretCreate,
    binding_problems,
    host_allowed,
)


@pytest.mark.parametrize(
    ("host", "patterns", "allowed"),
    [
        ("api.clinic.example", ["api.clinic.example"], True),
        ("API.Clinic.Example.", ["api.clinic.example"], True),
        ("evil.example", ["api.clinic.example"], False),
        ("api.clinic.example.evil.example", ["api.clinic.example"], False),
        ("eu.clinic.example", ["*.clinic.example"], True),
        ("a.b.clinic.example", ["*.clinic.example"], True),
        ("clinic.example", ["*.clinic.example"], False),
        ("notclinic.example", ["*.clinic.example"], False),
        ("[::1]", ["::1"], True),
        ("127.0.0.1", ["api.clinic.example"], False),
    ],
)
def test_host_allowed(host: str, patterns: list[str], allowed: bool) -> None:
    assert host_allowed(host, patterns) is allowed


@pytest.mark.parametrize(
    "host",
    ["*", "*.com", "https://a.example/", "a..example", "-a.example", "a.example/x", "a b.example"],
)
def test_a_host_that_is_not_a_name_or_suffix_is_refused(host: str) -> None:
    with pytest.raises(ValidationError):
        SecretCreate.model_validate({"name": "A", "value": "v", "hosts": [host]})


def test_hosts_are_normalised_and_deduplicated() -> None:
    created = SecretCreate.model_validate(
        {
            "name": "A",
            "value": "hunter2",
            "hosts": ["API.Example.com.", "api.example.com", "10.0.0.1"],
        }
    )
    assert created.hosts == ["api.example.com", "10.0.0.1"]
    assert "hunter2" not in repr(created)  # the value is a SecretStr


def test_egress_entries_are_networks_or_hosts() -> None:
    update = EgressUpdate.model_validate({"allow": ["10.1.2.3", "10.0.0.0/8", "CRM.lan"]})
    assert update.allow == ["10.1.2.3/32", "10.0.0.0/8", "crm.lan"]
    with pytest.raises(ValidationError):
        EgressUpdate.model_validate({"allow": ["http://crm.lan"]})


def tools(url: str, secret: str) -> Any:
    tool = {
        "type": "http",
        "name": "book",
        "description": "d",
        "url": url,
        "headers": {"Authorization": {"secret": secret}, "X-Plain": "p"},
    }
    fields = {
        "name": "A",
        "slug": "a",
        "voice": "marin",
        "tools": [tool, {"type": "builtin", "name": "end_call"}],
    }
    return AgentFields.model_validate(fields).tools


def test_binding_problems_name_the_tool_header_and_secret() -> None:
    secrets = {"CLINIC": ("api.clinic.example",)}
    assert binding_problems(tools("https://api.clinic.example/b", "CLINIC"), secrets) == []
    [foreign] = binding_problems(tools("https://api.clinic.example/b", "OPERATOR"), secrets)
    assert foreign == (
        "tool 'book', header 'Authorization': there is no secret 'OPERATOR' among the agent "
        "owner's secrets"
    )
    [moved] = binding_problems(tools("https://evil.example/b", "CLINIC"), secrets)
    assert "may only be sent to api.clinic.example, not to 'evil.example'" in moved
