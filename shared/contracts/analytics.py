"""Call analytics: one agent's calls in a time window, grouped by agent version or by UTC day.

Writer: the store (`AgentStore.call_analytics`, the SQL function `public.agent_call_analytics`
of deploy/supabase/migrations/*_call_analytics.sql); the backend adds costs from MODEL_PRICES
(`shared.pricing`). Readers: `GET /api/agents/{agent_id}/analytics`, the dashboard.

The window is `[from, to)` by `started_at`, at most MAX_WINDOW_DAYS long. Outcomes follow
`shared.call_outcomes`; `active` calls have not ended yet. Durations (median, p90; linear
interpolation, as `percentile_cont`) are of ended calls; null when none ended. A version group
with `version` null is keyed `draft`: calls that ran the working draft (a test spawn of the
draft) or were recorded before agents had versions. Day groups are UTC days; days without calls
are left out. Tokens are per model; `input_tokens` / `output_tokens` are totals, of which the
`*_audio_tokens` are the audio part. Turn latency (`shared.turns`: the end of the caller's turn
to the agent's first audio, per spoken reply) is summarised over the group's measured turns:
their count and the 50th and 95th percentiles (linear interpolation), null with no measured
turn. `cost_usd` is null unless a price table is configured and prices every model (and every
kind of token) in the figures.

Example (`group_by=version`):

    {"agent_id": "3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44", "from": "2026-11-01T00:00:00Z",
     "to": "2026-12-01T00:00:00Z", "group_by": "version", "priced": true,
     "groups": [{"key": "draft", "version": null, "day": null, "calls": 3, ...},
                {"key": "2", "version": 2, "day": null, "calls": 120, "completed": 104,
                 "errored": 4, "abandoned": 11, "active": 1, "grace_expiries": 81,
                 "median_duration_s": 94.5, "p90_duration_s": 240.0, "tool_calls": 57,
                 "tool_errors": 3, "tool_error_rate": 0.0526, "turns": 611,
                 "p50_turn_latency_s": 0.74, "p95_turn_latency_s": 1.31,
                 "tokens": [{"model": "gpt-realtime", "input_tokens": 614400,
                             "output_tokens": 99600, "input_audio_tokens": 492000,
                             "output_audio_tokens": 84000, "audio_seconds": 0.0,
                             "cost_usd": 22.7}],
                 "cost_usd": 22.7}],
     "total": {"key": null, "version": null, "day": null, "calls": 123, ...}}
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_WINDOW_DAYS = 366
DEFAULT_WINDOW_DAYS = 30

Count = Annotated[int, Field(ge=0)]


class GroupBy(StrEnum):
    VERSION = "version"
    DAY = "day"


class AnalyticsWindow(BaseModel):
    """What is asked: `[start, end)` by session start, and the grouping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime
    end: datetime
    group_by: GroupBy = GroupBy.VERSION

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("from and to must carry a time zone")
        if self.start >= self.end:
            raise ValueError("from must be before to")
        if self.end - self.start > timedelta(days=MAX_WINDOW_DAYS):
            raise ValueError(f"the window is at most {MAX_WINDOW_DAYS} days")
        return self

    @classmethod
    def ending(
        cls, end: datetime | None, start: datetime | None, group_by: GroupBy
    ) -> AnalyticsWindow:
        """The window as the API takes it: `to` defaults to now, `from` to DEFAULT_WINDOW_DAYS
        before `to`; a time without a zone is UTC."""
        end = as_utc(end) if end is not None else datetime.now(UTC)
        if start is None:
            try:
                start = end - timedelta(days=DEFAULT_WINDOW_DAYS)
            except OverflowError:  # `to` within 30 days of year 1: the window starts there
                start = datetime.min.replace(tzinfo=UTC)
        return cls(start=as_utc(start), end=end, group_by=group_by)


def as_utc(moment: datetime) -> datetime:
    """`moment` with a zone: naive times are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ModelTokens(BaseModel):
    """One model's usage summed over a group's calls."""

    model_config = ConfigDict(extra="forbid")

    model: str
    input_tokens: Count
    output_tokens: Count
    input_audio_tokens: Count
    output_audio_tokens: Count
    audio_seconds: Annotated[float, Field(ge=0)]
    cost_usd: float | None = Field(default=None, description="null when MODEL_PRICES lacks it")


class CallFigures(BaseModel):
    """The figures of one group of calls (or of the whole window)."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(description="the group: a version number, 'draft', or a UTC day")
    version: int | None = Field(description="group_by=version: the version; null is the draft")
    day: date | None = Field(description="group_by=day: the UTC day the calls started")
    calls: Count
    completed: Count
    errored: Count
    abandoned: Count
    active: Count = Field(description="calls not ended yet")
    grace_expiries: Count = Field(description="calls ended by the grace period running out")
    median_duration_s: float | None
    p90_duration_s: float | None
    tool_calls: Count
    tool_errors: Count
    tool_error_rate: float | None = Field(description="tool_errors / tool_calls; null if none")
    turns: Count = Field(description="agent replies whose latency was measured")
    p50_turn_latency_s: float | None = Field(
        description="median wait from the end of the caller's turn to the agent's first audio"
    )
    p95_turn_latency_s: float | None = Field(description="95th percentile of the same wait")
    tokens: list[ModelTokens]
    cost_usd: float | None = Field(
        default=None, description="null unless MODEL_PRICES prices every model used"
    )


class CallAnalytics(BaseModel):
    """`GET /api/agents/{agent_id}/analytics`."""

    model_config = ConfigDict(extra="forbid", serialize_by_alias=True, validate_by_name=True)

    agent_id: UUID
    start: datetime = Field(alias="from", description="the window's start (inclusive)")
    end: datetime = Field(alias="to", description="the window's end (exclusive)")
    group_by: GroupBy
    priced: bool = Field(default=False, description="a price table (MODEL_PRICES) is configured")
    groups: list[CallFigures]
    total: CallFigures = Field(description="the whole window")

    @classmethod
    def of(cls, agent_id: UUID, window: AnalyticsWindow, figures: object) -> CallAnalytics:
        """The report from the SQL function's answer (`{"groups": [...], "total": {...}}`)."""
        if not isinstance(figures, dict):
            raise ValueError(f"the analytics query answered {type(figures).__name__}")
        return cls(
            agent_id=agent_id,
            start=window.start,
            end=window.end,
            group_by=window.group_by,
            groups=figures.get("groups") or [],
            total=figures["total"],
        )
