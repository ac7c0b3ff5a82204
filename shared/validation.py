"""One way to say why a value was refused, used by settings, contracts, the store and the API."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError, *, env_names: bool = False) -> str:
    """`field.path: reason; …` — with `env_names`, fields are spelled as environment variables."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        reason = str(error["msg"]).removeprefix("Value error, ")
        where = ".".join(str(p) for p in error["loc"])
        if env_names:
            where = where.upper()
        parts.append(f"{where}: {reason}" if where else reason)
    return "; ".join(parts)


def excerpt(value: object, limit: int = 64) -> str:
    """The start of a caller's value, safe to echo in an error: control characters and lone
    surrogates are escaped, because an error body or log line must never carry a NUL or bytes
    that cannot be encoded (a raw one broke the API's problem documents)."""
    text = str(value)[:limit]
    return "".join(
        ch
        if ch.isprintable() or ch == " "
        else ch.encode("unicode_escape", "backslashreplace").decode()
        for ch in text
    )
