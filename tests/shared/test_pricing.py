"""The price table: configured as JSON, applied per kind of token, never guessing a cost."""

from __future__ import annotations

import pytest

from shared.contracts.analytics import ModelTokens
from shared.pricing import ModelPrice, cost_of
from shared.settings import ConfigError
from tests.conftest import make_settings


def usage(**counts: float) -> ModelTokens:
    values = dict.fromkeys(
        ("input_tokens", "output_tokens", "input_audio_tokens", "output_audio_tokens"), 0
    )
    return ModelTokens.model_validate({"model": "m", "audio_seconds": 0.0, **values, **counts})


def test_audio_is_priced_at_the_audio_rate_and_the_rest_at_the_text_rate() -> None:
    price = ModelPrice(input=4, output=16, input_audio=32, output_audio=64)
    tokens = usage(
        input_tokens=1_000_000,
        input_audio_tokens=250_000,
        output_tokens=100_000,
        output_audio_tokens=100_000,
    )
    assert cost_of(tokens, price) == pytest.approx(0.75 * 4 + 0.25 * 32 + 0.1 * 64)


def test_a_missing_price_leaves_the_cost_unknown() -> None:
    assert cost_of(usage(input_tokens=10), None) is None
    text_only = ModelPrice(input=1, output=2)
    assert cost_of(usage(input_tokens=10, input_audio_tokens=5), text_only) is None
    assert cost_of(usage(input_tokens=1_000_000), text_only) == pytest.approx(1.0)


def test_audio_minutes_are_priced_when_a_rate_is_given() -> None:
    price = ModelPrice(input=0, output=0, audio_minute=0.006)
    assert cost_of(usage(audio_seconds=90.0), price) == pytest.approx(0.009)
    assert cost_of(usage(audio_seconds=90.0), ModelPrice(input=0, output=0)) == 0.0


def test_model_prices_come_from_json_and_are_checked() -> None:
    settings = make_settings(model_prices='{"gpt-realtime": {"input": 4, "output": 16}}')
    assert settings.model_prices["gpt-realtime"].output == 16
    assert make_settings().model_prices == {}
    for bad in ('{"m": {"input": -1, "output": 1}}', '{"m": {"input": 1}}', "{not json"):
        with pytest.raises(ConfigError, match="MODEL_PRICES"):
            make_settings(model_prices=bad)
