"""The job adapter's own small rules (the rest runs in real worker processes: test_worker)."""

from __future__ import annotations

from structlog.testing import capture_logs

from spawner.call import best_effort


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
