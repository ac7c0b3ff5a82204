"""Call analytics in the store: both stores call the one SQL function,
`public.agent_call_analytics` (deploy/supabase/migrations/*_call_analytics.sql) — PostgresStore
with a `select`, SupabaseStore by RPC — with the arguments built here, so the outcome rule
(`shared.call_outcomes`) reaches the SQL from one place.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import ValidationError

from shared.call_outcomes import CallOutcome, end_reasons
from shared.contracts.analytics import AnalyticsWindow, CallAnalytics
from shared.store.errors import StoreUnavailable
from shared.validation import describe_validation_error

FUNCTION = "agent_call_analytics"
# The function's arguments, in its declared order (the Postgres store passes them by position).
ARGUMENTS = (
    "p_agent_id",
    "p_from",
    "p_to",
    "p_group_by",
    "p_completed",
    "p_errored",
    "p_abandoned",
)
CALL_SQL = f"select public.{FUNCTION}({', '.join(f'${i}' for i in range(1, len(ARGUMENTS) + 1))})"


def arguments(agent_id: UUID, window: AnalyticsWindow) -> dict[str, Any]:
    """The SQL function's arguments by name, as Python values."""
    return {
        "p_agent_id": agent_id,
        "p_from": window.start,
        "p_to": window.end,
        "p_group_by": window.group_by.value,
        "p_completed": end_reasons(CallOutcome.COMPLETED),
        "p_errored": end_reasons(CallOutcome.ERRORED),
        "p_abandoned": end_reasons(CallOutcome.ABANDONED),
    }


def json_arguments(agent_id: UUID, window: AnalyticsWindow) -> dict[str, Any]:
    """The same arguments as JSON values (an RPC body)."""
    values = arguments(agent_id, window)
    values["p_agent_id"] = str(agent_id)
    values["p_from"] = window.start.isoformat()
    values["p_to"] = window.end.isoformat()
    return values


def report(agent_id: UUID, window: AnalyticsWindow, answer: Any) -> CallAnalytics:
    """The function's answer as the contract; an answer that does not fit is the database's
    fault (a migration out of step), not the caller's."""
    try:
        return CallAnalytics.of(agent_id, window, answer)
    except (ValidationError, ValueError, KeyError) as exc:
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise StoreUnavailable(f"the analytics query answered unexpectedly: {detail}") from None
