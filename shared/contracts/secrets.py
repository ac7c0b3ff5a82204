"""Owner secrets and egress: what an agent's HTTP tools may send, and where.

A secret belongs to one owner and is bound, when it is created, to the hosts it may be sent to
(exact host names or `*.suffix`). A tool header may reference only its owner's secrets, and
only from a tool whose URL host is in that secret's binding. The rule is `binding_problems`:
the API (`POST`/`PATCH /api/agents`) and Voxie refuse a config that breaks it, and the spawner
checks it again before every request (a later edit of the URL, a deleted secret), sending
nothing when it fails.

Writers: the owner (`POST`/`DELETE /api/secrets`); the operator's `TOOL_SECRETS` are the
operator's own secrets (owner `OPERATOR_OWNER_ID`), read from the environment. Readers: the
API (names and hosts only, never the value), Voxie (names and hosts), the spawner (the value,
decrypted in the call's process by `shared.secret_box`).

Example (`POST /api/secrets` body, then the `GET /api/secrets` item — never the value):

    {"name": "CLINIC_API_TOKEN", "value": "Bearer sk_live_…",
     "hosts": ["api.clinic.example", "*.clinic.example"]}

    {"name": "CLINIC_API_TOKEN", "hosts": ["api.clinic.example", "*.clinic.example"],
     "created_at": "2026-12-07T10:00:00Z", "last_used_at": null, "source": "stored"}

Egress (`PUT /api/owners/{owner_id}/egress`, the operator only): the internal-address
exemptions of one owner's tools (host names, IP addresses or CIDR networks), as
`TOOL_HTTP_ALLOWLIST` is the operator's own:

    {"owner_id": "9b1d2c3e-0000-4000-8000-00000000a11c", "allow": ["10.20.0.0/16", "crm.lan"],
     "updated_at": "2026-12-07T10:00:00Z"}
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from shared.contracts.agent_config import (
    NOT_BLANK,
    HttpTool,
    SecretName,
    SecretRef,
    ToolSpec,
)

MAX_SECRET_VALUE = 4096
MAX_SECRET_HOSTS = 20
MAX_SECRETS_PER_OWNER = 100
MAX_EGRESS_ENTRIES = 50
MAX_HOST = 253

# A DNS name (any case, an optional final dot), or `*.` and a name of two labels or more. The
# pattern is the whole rule, so the API's document says exactly what the handler accepts.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_PATTERN = rf"^(?:\*\.{_LABEL}(?:\.{_LABEL})+|{_LABEL}(?:\.{_LABEL})*)\.?$"
# An IPv4 address or network, without leading zeros (which Python's ipaddress refuses).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_NETWORK_PATTERN = rf"^{_OCTET}(?:\.{_OCTET}){{3}}(?:/(?:3[0-2]|[12]?[0-9]))?$"
_HOST_RE = re.compile(HOST_PATTERN)


def _host_pattern(value: str) -> str:
    if not _HOST_RE.fullmatch(value):
        raise ValueError(
            f"'{value[:80]}' is not a host name or '*.suffix' (e.g. api.clinic.example, "
            "*.clinic.example)"
        )
    return value.lower().rstrip(".")


HostPattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_HOST),
    Field(json_schema_extra={"pattern": HOST_PATTERN}),
    AfterValidator(_host_pattern),
]


def _unique_hosts(hosts: list[str]) -> list[str]:
    return list(dict.fromkeys(hosts))


Hosts = Annotated[
    list[HostPattern],
    Field(min_length=1, max_length=MAX_SECRET_HOSTS),
    AfterValidator(_unique_hosts),
]


def _not_blank(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("a secret's value cannot be blank")
    return value


SecretValue = Annotated[
    SecretStr,
    Field(min_length=1, max_length=MAX_SECRET_VALUE, json_schema_extra={"pattern": NOT_BLANK}),
    AfterValidator(_not_blank),
]


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """True when `host` (a URL's host) is one of `patterns`: equal to an exact name, or below a
    `*.suffix` (any depth, never the bare suffix itself)."""
    name = host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    with contextlib.suppress(ValueError):
        name = str(ipaddress.ip_address(name))
    for pattern in patterns:
        if pattern.startswith("*."):
            if name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
                return True
        elif name == pattern:
            return True
    return False


class SecretCreate(BaseModel):
    """`POST /api/secrets`: a new secret of the caller's, its value and where it may go."""

    model_config = ConfigDict(extra="forbid")

    name: SecretName
    value: SecretValue = Field(description="the secret itself; stored encrypted, never returned")
    hosts: Hosts = Field(
        description="the only hosts the secret is ever sent to: exact names or *.suffix; "
        "fixed when the secret is created"
    )


class SecretInfo(BaseModel):
    """A secret as its owner sees it: everything but the value."""

    model_config = ConfigDict(extra="forbid")

    name: SecretName
    hosts: list[str]
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    # `environment`: the operator's TOOL_SECRETS (shown, not deletable through the API).
    source: Literal["stored", "environment"] = "stored"


class StoredSecret(BaseModel):
    """A row of `owner_secrets`, as the store hands it to the spawner: still encrypted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner_id: UUID
    name: SecretName
    hosts: tuple[str, ...]
    ciphertext: str
    created_at: datetime
    last_used_at: datetime | None = None

    def info(self) -> SecretInfo:
        return SecretInfo(
            name=self.name,
            hosts=list(self.hosts),
            created_at=self.created_at,
            last_used_at=self.last_used_at,
        )


def _egress_entry(value: str) -> str:
    if re.fullmatch(IPV4_NETWORK_PATTERN, value):
        return str(ipaddress.ip_network(value, strict=False))
    if value.startswith("*") or not _HOST_RE.fullmatch(value):
        raise ValueError(
            f"'{value[:80]}' is neither a host name nor an IPv4 address or network "
            "(e.g. crm.lan, 10.20.0.0/16)"
        )
    return value.lower().rstrip(".")


# The address guard exempts host names exactly (no wildcards) and IPv4 networks.
EgressEntry = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_HOST),
    Field(
        json_schema_extra={
            "anyOf": [
                {"pattern": IPV4_NETWORK_PATTERN},
                {"pattern": HOST_PATTERN, "not": {"pattern": "^\\*"}},
            ]
        }
    ),
    AfterValidator(_egress_entry),
]


class EgressUpdate(BaseModel):
    """`PUT /api/owners/{owner_id}/egress`: the owner's complete exemption list."""

    model_config = ConfigDict(extra="forbid")

    allow: Annotated[list[EgressEntry], Field(max_length=MAX_EGRESS_ENTRIES)] = Field(
        description="host names, IP addresses or CIDR networks this owner's tools may reach "
        "although they are internal; [] removes every exemption"
    )


class EgressPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: UUID
    allow: list[str]
    updated_at: datetime | None = None


class OwnerGrants(BaseModel):
    """What one owner's tools may use: each secret's hosts, and the internal-address exemptions
    (the owner's egress; for the operator also `TOOL_HTTP_ALLOWLIST`)."""

    model_config = ConfigDict(frozen=True)

    secrets: Mapping[str, tuple[str, ...]]
    allow: tuple[str, ...] = ()


def secret_refs(tools: Sequence[ToolSpec]) -> Iterator[tuple[HttpTool, str, str]]:
    """Each (tool, header name, secret name) a config's HTTP tools reference."""
    for tool in tools:
        if isinstance(tool, HttpTool):
            for header, value in tool.headers.items():
                if isinstance(value, SecretRef):
                    yield tool, header, value.secret


def binding_problem(
    tool: HttpTool, header: str, secret: str, hosts: Sequence[str] | None
) -> str | None:
    """Why `tool` may not send `secret` in `header`, or None. `hosts` is the secret's binding,
    None when the owner has no such secret."""
    where = f"tool '{tool.name}', header '{header}'"
    if hosts is None:
        return f"{where}: there is no secret '{secret}' among the agent owner's secrets"
    host = tool.url.host or ""
    if not host_allowed(host, hosts):
        return (
            f"{where}: the secret '{secret}' may only be sent to {', '.join(hosts)}, "
            f"not to '{host}'"
        )
    return None


def binding_problems(tools: Sequence[ToolSpec], secrets: Mapping[str, Sequence[str]]) -> list[str]:
    """Every reference of `tools` that `secrets` (the owner's: name → hosts) does not allow."""
    found = []
    for tool, header, secret in secret_refs(tools):
        if (problem := binding_problem(tool, header, secret, secrets.get(secret))) is not None:
            found.append(problem)
    return found
