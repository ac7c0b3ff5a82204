"""A scripted `CallRoom` (`shared.call`): the room a call sees, played by the test.

The call runs as it does in a worker — its real `AgentSession` in text mode with the scripted
LLM, its records in the real store through a process runtime — while the test decides what
LiveKit would have told it: the agents ahead of this job, the humans in the room, a connection
that fails or ends. What the call did to the room (attributes, text streams, notices, deletion,
shutdown) is kept for the test to read.

    room = ScriptedRoom(ahead=[[], ["agent-AJ_first"]])   # a second agent, seen after connecting
    await call.run()
    assert room.shut_down and not room.deleted
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from livekit.agents import Agent, AgentSession
from livekit.agents.voice.room_io import RoomOptions

from shared.contracts.lifecycle import PREFIX
from shared.contracts.room_messages import SpawnerErrorCode

STATE = f"{PREFIX}state"
WAIT_S = 30.0  # a deadline for the test's waits, so a broken call fails instead of hanging


@dataclass
class ScriptedRoom:
    name: str = field(default_factory=lambda: f"scripted-{uuid4().hex[:12]}")
    job_id: str = "AJ_scripted"
    console: bool = False
    assigned_at: float | None = None
    # `agents_ahead` answers these in turn (before connecting, after), then "none".
    ahead: list[list[str]] = field(default_factory=list)
    humans: list[str] = field(default_factory=lambda: ["user:tester"])
    connect_error: Exception | None = None

    connected: bool = False
    session: AgentSession[Any] | None = None
    published: list[dict[str, str]] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    told: list[SpawnerErrorCode] = field(default_factory=list)
    deleted: bool = False
    shut_down: str | None = None

    _joined: list[Callable[[str], object]] = field(default_factory=list)
    _left: list[Callable[[str], object]] = field(default_factory=list)
    _disconnected: list[Callable[[], object]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    # --- CallRoom --------------------------------------------------------------------------------

    async def agents_ahead(self) -> list[str]:
        return self.ahead.pop(0) if self.ahead else []

    async def connect(self) -> None:
        if self.connect_error is not None:
            raise self.connect_error
        self.connected = True

    def on_humans(self, joined: Callable[[str], object], left: Callable[[str], object]) -> None:
        self._joined.append(joined)
        self._left.append(left)
        for identity in self.humans:
            joined(identity)

    def on_disconnected(self, callback: Callable[[], object]) -> None:
        self._disconnected.append(callback)

    async def start(self, session: AgentSession[Any], agent: Agent, options: RoomOptions) -> None:
        self.session = session
        await session.start(agent)  # text mode: no room I/O
        self._changed.set()

    async def publish(self, attributes: dict[str, str]) -> None:
        self.published.append(attributes)
        self._changed.set()

    async def send_text(self, text: str, *, topic: str = "") -> None:
        self.texts.append((topic, text))

    async def tell(self, code: SpawnerErrorCode, agent_id: UUID | None) -> None:
        self.told.append(code)

    async def delete(self) -> None:
        self.deleted = True

    def shutdown(self, reason: str) -> None:
        self.shut_down = reason

    # --- what happens to the room ----------------------------------------------------------------

    def leave(self, identity: str) -> None:
        for left in self._left:
            left(identity)

    def disconnect(self) -> None:
        """The agent's connection ends (the room was deleted, or closed after its humans left)."""
        for callback in self._disconnected:
            callback()

    def was(self, state: str) -> bool:
        """Whether the agent ever published the lifecycle `state`."""
        return any(attributes.get(STATE) == state for attributes in self.published)

    async def until(self, state: str) -> None:
        async with asyncio.timeout(WAIT_S):
            while not self.was(state):
                self._changed.clear()
                await self._changed.wait()
