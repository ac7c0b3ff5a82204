"""Every end reason has exactly one outcome, and the database knows no other reason."""

from __future__ import annotations

import re
from pathlib import Path

from shared.call_outcomes import OUTCOME_OF, CallOutcome, described, end_reasons
from shared.contracts import EndReason

CORE_SCHEMA = (
    Path(__file__).resolve().parents[2]
    / "deploy/supabase/migrations/20261121000100_core_schema.sql"
)


def test_each_end_reason_lands_in_exactly_one_outcome() -> None:
    assert set(OUTCOME_OF) == set(EndReason)
    placed = [reason for outcome in CallOutcome for reason in end_reasons(outcome)]
    assert sorted(placed) == sorted(reason.value for reason in EndReason)
    assert end_reasons(CallOutcome.ERRORED) == ["error", "lost"]
    assert described().startswith("completed (end_call, grace_expired, user_hangup), errored")


def test_the_schema_check_lists_the_same_end_reasons() -> None:
    schema = CORE_SCHEMA.read_text()
    check = re.search(r"end_reason in \(([^)]*)\)", schema)
    assert check is not None
    assert set(re.findall(r"'([a-z_]+)'", check[1])) == {reason.value for reason in EndReason}
