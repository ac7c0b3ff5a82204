"""How a call turned out, from why it ended: the one rule the analytics count outcomes by.

Every end reason (`EndReason`, the `end_reason` check of `call_sessions`) lands in exactly one
outcome, and the analytics SQL (`public.agent_call_analytics`) is handed these lists rather than
spelling them again:

- **completed** — the conversation ended the way conversations end:
  `grace_expired` (the caller left and did not come back within the grace period: the ordinary
  end of a web call), `user_hangup` (the call's connection was closed from the caller's side:
  the caller's participant left a session that ends with it, or the room went away),
  `end_call` (the agent ended it, with its end_call tool or by closing its session).
- **errored** — the platform failed the call: `error` (the agent could not be loaded or run,
  its model went away, a refused job) and `lost` (its worker vanished without closing the
  session; the reconciler finalised it).
- **abandoned** — the call was cut short with nothing broken and neither side finished:
  `max_duration` (the platform's MAX_CALL_DURATION_S cap), `shutdown` (the worker drained or
  stopped mid-call: a deploy, a scale-down; or a second agent that found another ahead of it
  in the room right after joining, and left) and `room_closed` (the room was closed from
  outside — the operator's close, LiveKit ending it — before the worker said how the call
  ended).

Which event a worker records as which end reason is one rule too, for both workers:
`shared/call.py`.

A session with no end reason is still running and counts as `active`.
"""

from __future__ import annotations

from enum import StrEnum

from shared.contracts.sessions import EndReason


class CallOutcome(StrEnum):
    COMPLETED = "completed"
    ERRORED = "errored"
    ABANDONED = "abandoned"


OUTCOME_OF: dict[EndReason, CallOutcome] = {
    EndReason.GRACE_EXPIRED: CallOutcome.COMPLETED,
    EndReason.USER_HANGUP: CallOutcome.COMPLETED,
    EndReason.END_CALL: CallOutcome.COMPLETED,
    EndReason.ERROR: CallOutcome.ERRORED,
    EndReason.LOST: CallOutcome.ERRORED,
    EndReason.MAX_DURATION: CallOutcome.ABANDONED,
    EndReason.SHUTDOWN: CallOutcome.ABANDONED,
    EndReason.ROOM_CLOSED: CallOutcome.ABANDONED,
}


def end_reasons(outcome: CallOutcome) -> list[str]:
    """The end reasons (as stored) that count as `outcome`, in a stable order."""
    return sorted(reason.value for reason, found in OUTCOME_OF.items() if found is outcome)


def described() -> str:
    """The rule in one line, for documents: `completed (end_call, …), errored (…), …`."""
    return ", ".join(f"{o.value} ({', '.join(end_reasons(o))})" for o in CallOutcome)
