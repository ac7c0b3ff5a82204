"""The LiveKit side of `DraftSender`: one text stream per message, on the contract's topics."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from structlog.testing import capture_logs

from shared.contracts.room_messages import (
    VOXIE_AGENT_SAVED,
    VOXIE_AGENT_VERSION,
    VOXIE_DRAFT,
    AgentSaved,
    DraftUpdate,
    LiveVersion,
)
from voxie.messages import DraftSender, RoomSender


class Participant:
    """Stands in for `rtc.LocalParticipant.send_text` (the double has no SFU to send through)."""

    def __init__(self, *, fail: bool = False, hang: bool = False) -> None:
        self.streams: list[tuple[str, str]] = []
        self.fail = fail
        self.hang = hang

    async def send_text(self, text: str, *, topic: str = "") -> Any:
        if self.fail:
            raise ConnectionError("room disconnected")
        if self.hang:
            await asyncio.Event().wait()  # a room connection that never completes the send
        self.streams.append((topic, text))


async def test_each_message_is_one_text_stream_on_its_topic() -> None:
    participant = Participant()
    sender: DraftSender = RoomSender(participant, timeout_s=5)
    agent_id = uuid4()
    update = DraftUpdate(agent_id=agent_id, version=2, fields={"name": "Clarence"}, missing=[])
    await sender.draft(update)
    await sender.agent_saved(AgentSaved(agent_id=agent_id, slug="clarence", name="Clarence"))
    live = LiveVersion(agent_id=agent_id, published_version=3, has_unpublished_changes=True)
    await sender.agent_version(live)

    (draft_topic, draft_text), (saved_topic, saved_text), (live_topic, live_text) = (
        participant.streams
    )
    assert (draft_topic, saved_topic, live_topic) == (
        VOXIE_DRAFT,
        VOXIE_AGENT_SAVED,
        VOXIE_AGENT_VERSION,
    )
    assert DraftUpdate.model_validate_json(draft_text) == update
    assert AgentSaved.model_validate_json(saved_text).agent_id == agent_id
    assert LiveVersion.model_validate_json(live_text) == live


async def test_a_failed_send_is_logged_not_raised() -> None:
    sender = RoomSender(Participant(fail=True), timeout_s=5)
    with capture_logs() as logs:
        await sender.draft(DraftUpdate(fields={}, missing=["name"]))
    assert logs == [
        {
            "event": "room_message_not_sent",
            "log_level": "warning",
            "topic": VOXIE_DRAFT,
            "error": "ConnectionError: room disconnected",
        }
    ]


@pytest.mark.timeout(30)
async def test_a_send_that_never_completes_is_given_up() -> None:
    participant = Participant(hang=True)
    sender = RoomSender(participant, timeout_s=0.2)
    with capture_logs() as logs:
        await sender.draft(DraftUpdate(fields={}, missing=["name"]))
    [given_up] = logs
    assert (given_up["event"], given_up["topic"]) == ("room_message_not_sent", VOXIE_DRAFT)
    assert given_up["error"].startswith("TimeoutError")
