"""The agent's tools, built from its config: declarative HTTP tools and the built-in `end_call`.

An HTTP tool call, in order: the model's arguments are validated against the tool's JSON
Schema; header values that reference a secret are filled from the agent *owner's* secrets, read
now (never from the config, never logged), and only if the URL's host is in that secret's
binding (`shared.contracts.secrets`) — otherwise nothing is sent; the host is resolved and
*every* address checked by `shared.addresses.AddressGuard` (loopback, private, link-local and
cloud metadata, unspecified, multicast, reserved, and their IPv6 and IPv4-mapped forms are
refused unless the owner's egress exemptions name the host or a network holding the address;
`shared.tool_access`); the request goes to the
checked address (so a second DNS answer cannot swap in an internal one), with a timeout,
redirects followed by hand and checked the same way, and the response read only up to a size
cap. Every failure comes back to the model as a tool
error it can explain to the caller; nothing here ends the session.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from jsonschema import Draft202012Validator
from livekit.agents import llm
from livekit.agents.llm import ToolError
from livekit.agents.voice import RunContext

from shared.addresses import AddressGuard, InternalAddress, UnresolvableHost, pinned
from shared.contracts import HttpTool
from shared.contracts.secrets import binding_problem, secret_refs
from shared.logging import get_logger
from shared.store import StoreError
from shared.tool_access import BoundSecret
from spawner import metrics

log = get_logger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024
MAX_REDIRECTS = 3
MAX_ERRORS_SHOWN = 5
_REDIRECTS = {301, 302, 303, 307, 308}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one costs tens of milliseconds, and
    every call's HTTP client would otherwise build its own while the call is starting."""
    return httpx.create_ssl_context()


class ToolRefused(ToolError):
    """The call was not made: the destination is internal or the URL is not allowed."""


class OwnerGrants(Protocol):
    """The agent owner's grants at call time (`shared.tool_access.OwnerTools` in a call)."""

    async def guard(self) -> AddressGuard: ...

    async def secrets(self, names: Sequence[str]) -> Mapping[str, BoundSecret]: ...


@dataclass(frozen=True)
class ToolContext:
    """What HTTP tools need at call time, built once per call by the factory's caller."""

    client: httpx.AsyncClient
    owner: OwnerGrants
    max_response_bytes: int = MAX_RESPONSE_BYTES


def http_tool(spec: HttpTool, context: ToolContext) -> llm.RawFunctionTool[..., Any]:
    """A raw-schema function tool: the config's description is the prompt the model sees."""
    validator = Draft202012Validator(spec.parameters)
    schema = {"name": spec.name, "description": spec.description, "parameters": spec.parameters}

    async def call(raw_arguments: dict[str, Any]) -> str:
        errors = sorted(validator.iter_errors(raw_arguments), key=lambda e: list(e.path))
        if errors:
            shown = "; ".join(
                f"{'/'.join(map(str, e.path)) or 'arguments'}: {e.message}"
                for e in errors[:MAX_ERRORS_SHOWN]
            )
            metrics.TOOL_CALLS.labels(outcome="invalid_arguments").inc()
            raise ToolError(f"invalid arguments for {spec.name}: {shown}")
        return await invoke(spec, raw_arguments, context)

    return llm.function_tool(call, raw_schema=schema)


async def invoke(spec: HttpTool, arguments: dict[str, Any], context: ToolContext) -> str:
    """Performs one validated call; the tool's result text or a ToolError."""
    started = time.perf_counter()
    outcome = "error"
    try:
        async with asyncio.timeout(spec.timeout_s):
            status, body = await _request(spec, arguments, context)
        outcome = "ok" if status < 400 else "http_error"
    except ToolRefused:
        outcome = "refused"
        raise
    except TimeoutError as exc:
        raise ToolError(f"{spec.name} timed out after {spec.timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise ToolError(f"{spec.name} could not reach its service ({type(exc).__name__})") from exc
    finally:
        metrics.TOOL_CALLS.labels(outcome=outcome).inc()
        log.info(
            "tool_called",
            tool=spec.name,
            method=spec.method,
            host=spec.url.host,
            outcome=outcome,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
    if status >= 400:
        raise ToolError(f"{spec.name} failed: the service answered HTTP {status}: {body[:500]}")
    return body


async def _request(
    spec: HttpTool, arguments: dict[str, Any], context: ToolContext
) -> tuple[int, str]:
    url = httpx.URL(str(spec.url))
    method = spec.method
    headers = await _headers(spec, context.owner)
    guard = await _owner_guard(spec, context.owner)
    query, body = _split_arguments(method, arguments)
    if query:
        url = url.copy_merge_params(query)
    for _ in range(MAX_REDIRECTS + 1):
        if url.scheme not in ("http", "https"):
            raise ToolRefused(f"{spec.name} may only call http(s) URLs")
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await _checked_address(guard, url.host, port)
        at, host, sni = pinned(url, address)
        request = context.client.build_request(
            method, at, headers={**headers, **host}, json=body, extensions=sni
        )
        response = await context.client.send(request, stream=True)
        try:
            if response.status_code in _REDIRECTS and "location" in response.headers:
                target = url.join(response.headers["location"])
                if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port):
                    headers = {}  # configured headers (secrets) never follow to another origin
                if response.status_code in (301, 302, 303):
                    method, body = "GET", None
                url = target
                continue
            return response.status_code, await _read_capped(response, context.max_response_bytes)
        finally:
            await response.aclose()
    raise ToolError(f"{spec.name} was redirected more than {MAX_REDIRECTS} times")


async def _checked_address(guard: AddressGuard, host: str, port: int) -> str:
    try:
        return await guard.resolve(host, port)
    except InternalAddress:
        raise ToolRefused(
            f"calls to '{host}' are not allowed: it resolves to an internal address"
        ) from None
    except UnresolvableHost as exc:
        raise ToolError(f"the host '{host}' could not be resolved") from exc


async def _owner_guard(spec: HttpTool, owner: OwnerGrants) -> AddressGuard:
    try:
        return await owner.guard()
    except StoreError as exc:
        log.warning("tool_egress_unreadable", tool=spec.name, error=type(exc).__name__)
        raise ToolError(f"{spec.name} is unavailable right now; try again shortly") from exc


async def _headers(spec: HttpTool, owner: OwnerGrants) -> dict[str, str]:
    """The request's headers, each secret the owner's own and bound to the tool's host: the
    binding is checked again here because the URL may have been edited since it was saved."""
    headers: dict[str, str] = {"Accept": "application/json"}
    headers.update((k, v) for k, v in spec.headers.items() if isinstance(v, str))
    refs = list(secret_refs([spec]))
    if not refs:
        return headers
    try:
        found = await owner.secrets([secret for _, _, secret in refs])
    except StoreError as exc:
        log.warning("tool_secrets_unreadable", tool=spec.name, error=type(exc).__name__)
        raise ToolError(f"{spec.name} is unavailable right now; try again shortly") from exc
    for _, header, secret in refs:
        bound = found.get(secret)
        problem = binding_problem(spec, header, secret, bound.hosts if bound else None)
        if problem is not None:
            log.error("tool_secret_refused", tool=spec.name, secret_name=secret, reason=problem)
            if bound is None:
                raise ToolError(f"{spec.name} is not configured (a secret it needs is missing)")
            raise ToolRefused(f"{spec.name} may not send its credentials to '{spec.url.host}'")
        assert bound is not None
        headers[header] = bound.value.get_secret_value()
    return headers


def _split_arguments(
    method: str, arguments: dict[str, Any]
) -> tuple[dict[str, str | list[str]], dict[str, Any] | None]:
    if method in ("POST", "PUT", "PATCH"):
        return {}, arguments
    query: dict[str, str | list[str]] = {}
    for key, value in arguments.items():
        if isinstance(value, list):
            query[key] = [_query_value(v) for v in value]
        elif value is not None:
            query[key] = _query_value(value)
    return query, None


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


async def _read_capped(response: httpx.Response, limit: int) -> str:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ToolError(f"the service's answer is larger than {limit // 1024} KiB")
        chunks.append(chunk)
    text = b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")
    return text or f"(HTTP {response.status_code}, empty body)"


# Not livekit-agents' own `EndCallTool` (livekit.agents.beta.tools): when the session closes it
# shuts the job down itself (`get_job_context().shutdown()`, optionally deleting the room),
# while a call here ends through `Lifecycle.close(END_CALL)` so that `Call` records the
# transcript, usage and summary first and then decides whether to delete the room; and it
# needs a running job context, so the config → Agent mapping could no longer be tested
# without a room (tests/spawner/test_agent.py).
def end_call_tool(on_end: Callable[[], object]) -> llm.FunctionTool[..., Any]:
    async def end_call(context: RunContext[Any]) -> str:
        """End the call and hang up.

        Use it only when the caller says goodbye or asks to end the call, right after you said
        goodbye. Do not use it while the caller still needs something.
        """
        context.disallow_interruptions()
        on_end()
        return "The call is ending."

    return llm.function_tool(end_call)
