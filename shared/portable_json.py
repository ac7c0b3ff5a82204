"""Portable JSON: the one rule for which JSON the platform reads and writes.

Python's `json` accepts and writes `NaN`, `Infinity` and `1e999` (read as a float infinity), and
pydantic's JSON mode silently turns those into `null`: a value read from a request could be
stored as something else than what was validated, and Postgres' `jsonb` refuses them outright.
So every JSON document the platform takes in (API bodies, webhook bodies) and every JSON value
the store writes must be portable: finite numbers, integers of a bounded length (CPython refuses
to read more than 4,300 digits with an error of its own; Postgres and Python keep the rest
exactly), strings without U+0000 or unpaired surrogates (Postgres stores neither in text or
jsonb), and a bounded nesting depth so neither the parser nor a validator recurses without end.

`loads` parses and checks; `check` checks an already-parsed value; `dumps` writes compactly and
refuses what `loads` would refuse. All raise `NotPortable` with a message fit for a client.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

# Deep enough for any body the API defines (an agent with tool schemas is ~20 levels).
MAX_DEPTH = 32
# The longest integer taken: far beyond any count, id or bound, far below CPython's 4,300.
MAX_INTEGER_DIGITS = 100
_LARGEST = 10**MAX_INTEGER_DIGITS
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class NotPortable(ValueError):
    """The JSON is malformed or cannot round-trip through the platform unchanged."""


def _constant(name: str) -> Any:
    raise NotPortable(f"{name} is not a JSON number; numbers must be finite")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotPortable(f"the number {text[:32]} is out of range; numbers must be finite")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise NotPortable(
            f"the integer {text[:32]}… is too long; integers have at most "
            f"{MAX_INTEGER_DIGITS} digits"
        )
    return int(text)


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value of `text`, or NotPortable saying why it is refused."""
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except NotPortable:
        raise
    except RecursionError:
        raise NotPortable(f"the JSON is nested more than {max_depth} levels deep") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotPortable(f"the body is not valid JSON: {exc}") from None
    check(value, max_depth=max_depth)
    return value


def check(value: Any, *, max_depth: int = MAX_DEPTH, where: str = "the JSON") -> None:
    """Raises NotPortable unless every number in `value` is finite and in range and it is at
    most `max_depth` containers deep. Other leaves (strings, and the ids, times and enums of a
    model dumped in Python mode) are left to the serialiser. Iterative, so a deep value cannot
    exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= max_depth:
                raise NotPortable(f"{where} is nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
            children: Iterable[Any] = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise NotPortable(
                    f"{where} holds a string with U+0000 or an unpaired surrogate, which "
                    "cannot be stored"
                )
        elif isinstance(item, bool):
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise NotPortable(f"{where} holds {item}; numbers must be finite")
        elif isinstance(item, int) and abs(item) >= _LARGEST:
            raise NotPortable(
                f"{where} holds an integer that is too long; integers have at most "
                f"{MAX_INTEGER_DIGITS} digits"
            )


def dumps(value: Any, *, max_depth: int = MAX_DEPTH, where: str = "the JSON") -> str:
    """Compact JSON text for `value`, refused (NotPortable) where `loads` would refuse it."""
    check(value, max_depth=max_depth, where=where)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
