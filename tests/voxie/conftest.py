"""Voxie fixtures: a fresh owner per test (the shared session `store` in tests/conftest.py is
never emptied: owners keep tests apart), a recording sender, a draft, a creation call in a
scripted room."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import pytest

from shared.contracts import DispatchMetadata, SessionKind
from shared.contracts.room_messages import (
    VOXIE_AGENT_SAVED,
    VOXIE_AGENT_VERSION,
    VOXIE_DRAFT,
    AgentSaved,
    DraftUpdate,
    LiveVersion,
)
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.support.call_room import ScriptedRoom
from tests.support.scripted_llm import ScriptedLLM
from voxie.call import CreationCall
from voxie.draft import Draft


@dataclass
class RecordingSender:
    """A `DraftSender` that keeps what the browser would have received, in order."""

    sent: list[tuple[str, DraftUpdate | AgentSaved | LiveVersion]] = field(default_factory=list)

    async def draft(self, update: DraftUpdate) -> None:
        self.sent.append((VOXIE_DRAFT, update))

    async def agent_saved(self, saved: AgentSaved) -> None:
        self.sent.append((VOXIE_AGENT_SAVED, saved))

    async def agent_version(self, live: LiveVersion) -> None:
        self.sent.append((VOXIE_AGENT_VERSION, live))

    @property
    def drafts(self) -> list[DraftUpdate]:
        return [m for topic, m in self.sent if topic == VOXIE_DRAFT and isinstance(m, DraftUpdate)]

    @property
    def live(self) -> list[LiveVersion]:
        return [m for _, m in self.sent if isinstance(m, LiveVersion)]

    @property
    def saved(self) -> list[AgentSaved]:
        return [m for _, m in self.sent if isinstance(m, AgentSaved)]


@pytest.fixture
def owner() -> UUID:
    """Each test builds agents for its own user, so tests never see each other's rows."""
    return uuid4()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
async def draft(store: PostgresStore, sender: RecordingSender, owner: UUID) -> Draft:
    """A new agent's draft (creation mode) for this test's owner."""
    return await Draft.open(store, sender, owner, None)


async def creation_call(
    room: ScriptedRoom,
    runtime: Runtime,
    settings: Settings,
    store: PostgresStore,
    *,
    model: ScriptedLLM | None = None,
    draining: Callable[[], bool] = lambda: False,
) -> CreationCall:
    """A creation session for a new user (Voxie greets: one model turn)."""
    metadata = DispatchMetadata(
        deployment=settings.platform_env,
        kind=SessionKind.CREATION,
        requested_by=f"user:{uuid4()}",
    )
    scripted = model or ScriptedLLM(["Hi, I'm Voxie! What should your agent do?"])
    return CreationCall(room, runtime, settings, metadata, draining=draining, model=scripted)
