"""Refusals echo a caller's value only as a printable excerpt."""

from __future__ import annotations

import json

from shared.validation import excerpt


def test_an_excerpt_escapes_what_a_body_or_log_line_must_not_carry() -> None:
    hostile = "a\x00b\x1b[2J\ud800c\n"
    text = excerpt(hostile)
    assert text == "a\\x00b\\x1b[2J\\ud800c\\n"
    assert text.isprintable()
    json.dumps(text, ensure_ascii=False).encode()  # a lone surrogate would raise here


def test_an_excerpt_keeps_printable_text_and_is_bounded() -> None:
    assert excerpt("Clarence Coherence: ünïcode") == "Clarence Coherence: ünïcode"
    assert excerpt("x" * 500) == "x" * 64
    assert excerpt("y" * 500, 100) == "y" * 100
