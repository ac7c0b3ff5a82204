"""One way to say why pydantic refused a value, used by settings, contracts and the store."""

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
