"""Portable JSON: what the platform reads and writes round-trips unchanged, or is refused with a
reason (RFC 7493's number rules, a depth cap) — never a RecursionError or a silent null."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from shared import portable_json
from shared.portable_json import MAX_INTEGER_DIGITS, NotPortable


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e999", "out of range; numbers must be finite"),
        ("-1e999", "out of range"),
        ("NaN", "NaN is not a JSON number"),
        ("Infinity", "Infinity is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ("1" + "0" * MAX_INTEGER_DIGITS, "integers have at most 100 digits"),
        ("-" + "9" * 5000, "integers have at most 100 digits"),
        ('"nul \\u0000 byte"', r"U\+0000"),
        ('{"\\u0000": 1}', r"U\+0000"),
        ('"\\ud800 alone"', "unpaired surrogate"),
        ("[" * 33 + "]" * 33, "nested more than 32 levels"),
        ("[" * 100_000 + "]" * 100_000, "nested more than 32 levels"),
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_what_cannot_round_trip_is_refused_with_a_reason(text: str | bytes, reason: str) -> None:
    with pytest.raises(NotPortable, match=reason):
        portable_json.loads(text)


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, -0.0, 1e-300, 1e300, True, None, "x"]},
        10**MAX_INTEGER_DIGITS - 1,
        -(2**64),
        "pair \U0001f600",
        [[[]]] * 3,
        "Ünïcode ☎",
    ],
)
def test_portable_values_round_trip_exactly(value: Any) -> None:
    assert portable_json.loads(portable_json.dumps(value)) == value
    assert portable_json.loads(json.dumps(value)) == value


@pytest.mark.parametrize(
    "value", [math.inf, -math.inf, math.nan, 10**MAX_INTEGER_DIGITS, {"a": [math.nan]}, "\x00"]
)
def test_dumps_refuses_what_loads_would(value: Any) -> None:
    with pytest.raises(NotPortable):
        portable_json.dumps(value)


def test_depth_is_checked_without_recursion() -> None:
    deep: Any = 1
    for _ in range(50_000):
        deep = [deep]
    with pytest.raises(NotPortable, match="nested more than 5 levels"):
        portable_json.check(deep, max_depth=5)
    portable_json.check([[[1]]], max_depth=3)
