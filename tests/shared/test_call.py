"""One call skeleton (`shared.call`): how LiveKit's session closes map to end reasons, and the
steps a call can end without."""

from __future__ import annotations

from livekit.agents.voice.events import CloseEvent, CloseReason
from structlog.testing import capture_logs

from shared.call import END_OF_CLOSE, best_effort, end_reason_of


def test_every_way_livekit_closes_a_session_has_one_end_reason() -> None:
    assert set(END_OF_CLOSE) == set(CloseReason)
    for reason, expected in END_OF_CLOSE.items():
        assert end_reason_of(CloseEvent(reason=reason)) is expected


async def test_a_step_the_call_can_end_without_logs_what_it_swallows() -> None:
    async def failing() -> None:
        raise ConnectionResetError("LiveKit went away")

    with capture_logs() as logs:
        await best_effort("room_not_deleted", failing())
    assert [(log["event"], log["error"]) for log in logs] == [
        ("room_not_deleted", "ConnectionResetError: LiveKit went away")
    ]

    async def fine() -> None:
        return None

    with capture_logs() as quiet:
        await best_effort("room_not_deleted", fine())
    assert quiet == []
