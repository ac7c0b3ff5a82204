"""The LiveKit side of `DraftSender`: one text stream per message, on the contract's topics."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from shared.contracts.room_messages import VOXIE_AGENT_SAVED, VOXIE_DRAFT, AgentSaved, DraftUpdate
from voxie.messages import DraftSender, RoomSender


class Participant:
    """Stands in for `rtc.LocalParticipant.send_text` (the double has no SFU to send through)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.streams: list[tuple[str, str]] = []
        self.fail = fail

    async def send_text(self, text: str, *, topic: str = "") -> Any:
        if self.fail:
            raise ConnectionError("room disconnected")
        self.streams.append((topic, text))


async def test_each_message_is_one_text_stream_on_its_topic() -> None:
    participant = Participant()
    sender: DraftSender = RoomSender(participant)
    agent_id = uuid4()
    update = DraftUpdate(agent_id=agent_id, version=2, fields={"name": "Clarence"}, missing=[])
    await sender.draft(update)
    await sender.agent_saved(AgentSaved(agent_id=agent_id, slug="clarence", name="Clarence"))

    (draft_topic, draft_text), (saved_topic, saved_text) = participant.streams
    assert (draft_topic, saved_topic) == (VOXIE_DRAFT, VOXIE_AGENT_SAVED)
    assert DraftUpdate.model_validate_json(draft_text) == update
    assert AgentSaved.model_validate_json(saved_text).agent_id == agent_id


async def test_a_failed_send_is_logged_not_raised() -> None:
    sender = RoomSender(Participant(fail=True))
    await sender.draft(DraftUpdate(fields={}, missing=["name"]))
