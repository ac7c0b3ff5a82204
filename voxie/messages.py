"""What Voxie tells the browser while it builds an agent: `voxie.draft`, `voxie.agent_saved` and
`voxie.agent_version`.

The payloads and topics are the contract in `shared.contracts.room_messages`. The draft logic
talks to a `DraftSender`; in a room that is `RoomSender` (LiveKit text streams), in tests a
recording implementation. A browser that misses a message loses nothing: the draft is in the
store, so a failed send is logged, never raised into the conversation.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from shared.contracts.room_messages import (
    VOXIE_AGENT_SAVED,
    VOXIE_AGENT_VERSION,
    VOXIE_DRAFT,
    AgentSaved,
    DraftUpdate,
    LiveVersion,
)
from shared.logging import get_logger

log = get_logger(__name__)


class DraftSender(Protocol):
    async def draft(self, update: DraftUpdate) -> None:
        """The current draft, after every change."""

    async def agent_saved(self, saved: AgentSaved) -> None:
        """The agent was saved active: the dashboard can offer "Test it now"."""

    async def agent_version(self, live: LiveVersion) -> None:
        """Which version calls run, after a save or a publish."""


class TextStreamWriter(Protocol):
    """The part of `rtc.LocalParticipant` a sender needs."""

    async def send_text(self, text: str, *, topic: str = "") -> Any: ...


class RoomSender:
    """Sends each message as one text stream from Voxie's participant to the room."""

    def __init__(self, participant: TextStreamWriter, *, timeout_s: float) -> None:
        """`timeout_s` (LIVEKIT_API_TIMEOUT_S) bounds each send: the tool call that sends it
        is part of the conversation and must not wait on a stalled room connection."""
        self._participant = participant
        self._timeout_s = timeout_s

    async def draft(self, update: DraftUpdate) -> None:
        await self._send(VOXIE_DRAFT, update.to_json())

    async def agent_saved(self, saved: AgentSaved) -> None:
        await self._send(VOXIE_AGENT_SAVED, saved.to_json())

    async def agent_version(self, live: LiveVersion) -> None:
        await self._send(VOXIE_AGENT_VERSION, live.to_json())

    async def _send(self, topic: str, payload: str) -> None:
        try:
            await asyncio.wait_for(
                self._participant.send_text(payload, topic=topic), self._timeout_s
            )
        except Exception as exc:  # the store holds the truth; the browser catches up
            log.warning("room_message_not_sent", topic=topic, error=f"{type(exc).__name__}: {exc}")
