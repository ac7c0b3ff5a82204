"""What calls cost: the price table (MODEL_PRICES) applied to token usage.

The operator configures prices per model in USD per 1 million tokens, e.g.

    MODEL_PRICES={"gpt-realtime": {"input": 4, "output": 16, "input_audio": 32,
                                   "output_audio": 64},
                  "gpt-4o-mini-transcribe": {"input": 1.25, "output": 5, "audio_minute": 0.003}}

Usage counts `input_tokens` / `output_tokens` as totals, of which `*_audio_tokens` are audio
(LiveKit's `AgentSessionUsage`): the audio part is priced at the audio rate, the rest at the
text rate. `audio_minute` prices `audio_seconds` (STT/TTS billed by duration), if given.
A cost is never a guess: a model missing from the table, or audio tokens of a model without an
audio price, leave the cost null (and with it the cost of every total it is part of).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.analytics import CallAnalytics, CallFigures, ModelTokens

Price = Annotated[float, Field(ge=0, le=1_000_000)]
PER_TOKENS = 1_000_000


class ModelPrice(BaseModel):
    """USD per 1M tokens (and per minute of audio, for duration-billed models)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Price
    output: Price
    input_audio: Price | None = None
    output_audio: Price | None = None
    audio_minute: Price | None = None


PriceTable = dict[str, ModelPrice]


def cost_of(usage: ModelTokens, price: ModelPrice | None) -> float | None:
    """USD for `usage` at `price`; None when something in it has no price."""
    if price is None:
        return None
    parts = (
        (usage.input_tokens - usage.input_audio_tokens, price.input),
        (usage.input_audio_tokens, price.input_audio),
        (usage.output_tokens - usage.output_audio_tokens, price.output),
        (usage.output_audio_tokens, price.output_audio),
    )
    total = 0.0
    for tokens, rate in parts:
        if tokens <= 0:
            continue  # also audio reported beside (not inside) the total: never negative
        if rate is None:
            return None
        total += tokens * rate / PER_TOKENS
    if price.audio_minute is not None:
        total += usage.audio_seconds / 60 * price.audio_minute
    return round(total, 6)


def priced(report: CallAnalytics, prices: PriceTable) -> CallAnalytics:
    """`report` with costs, if a price table is configured (else unchanged)."""
    if not prices:
        return report
    return report.model_copy(
        update={
            "priced": True,
            "groups": [_priced(group, prices) for group in report.groups],
            "total": _priced(report.total, prices),
        }
    )


def _priced(figures: CallFigures, prices: PriceTable) -> CallFigures:
    tokens = [
        usage.model_copy(update={"cost_usd": cost_of(usage, prices.get(usage.model))})
        for usage in figures.tokens
    ]
    costs = [usage.cost_usd for usage in tokens]
    total = None if None in costs else round(sum(c for c in costs if c is not None), 6)
    return figures.model_copy(update={"tokens": tokens, "cost_usd": total})
