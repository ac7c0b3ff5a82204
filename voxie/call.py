"""A creation (or edit) session: Voxie in the shared call skeleton (`shared.call`), with what is
Voxie's own —

    open the draft (edit mode: the owner's agent; not theirs, archived or gone: refused) ─▶
    Voxie and its realtime session ─▶ the conversation until an end (the user leaving closes
    the session: `user_hangup`) ─▶ the draft's last writes

Its `call_sessions` row is of kind `creation`, for the user who owns what it builds; the browser
hears about the draft on the `voxie.draft` / `voxie.agent_saved` / `voxie.agent_version` topics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from livekit.agents import Agent, AgentSession, llm

from shared.call import Call, CallRoom, Refused
from shared.contracts import DispatchMetadata, NewCallSession
from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store import NotFound, StoreError
from shared.tool_access import ToolAccess
from voxie.agent import ROOM_OPTIONS, VoxieAgent, voxie_llm
from voxie.draft import Draft, owner_id_from
from voxie.messages import RoomSender


class CreationCall(Call):
    """`model` replaces Voxie's realtime model (tests: the scripted LLM)."""

    def __init__(
        self,
        room: CallRoom,
        runtime: Runtime,
        settings: Settings,
        metadata: DispatchMetadata | None,
        *,
        agent_id: UUID | None = None,
        draining: Callable[[], bool] = lambda: False,
        model: llm.LLM[Any] | llm.RealtimeModel | None = None,
    ) -> None:
        super().__init__(room, runtime, settings, metadata, agent_id=agent_id, draining=draining)
        assert metadata is not None, "Voxie admits jobs with dispatch metadata only"
        # Admitted by `voxie.admission`: the user the backend minted the session for.
        self.owner_id: UUID = owner_id_from(metadata.requested_by)
        self._model = model
        self.draft: Draft | None = None
        self._session_id: UUID | None = None

    async def prepare(self) -> NewCallSession:
        agent_id = self.agent_id
        sender = RoomSender(self.room, timeout_s=self.settings.livekit_api_timeout_s)
        try:
            self.draft = await Draft.open(self.runtime.job_store(), sender, self.owner_id, agent_id)
        except StoreError as exc:  # NotFound included: not theirs, archived or deleted
            known = None if isinstance(exc, NotFound) else agent_id
            raise Refused(None, str(exc), agent_id=known, owner_id=self.owner_id) from exc
        return self.session_record(agent_id=agent_id, owner_id=self.owner_id)

    def build(self, session_id: UUID) -> tuple[Agent, AgentSession[Any]]:
        assert self.draft is not None
        self._session_id = session_id
        session: AgentSession[Any] = AgentSession(llm=self._model or voxie_llm(self.settings))
        agent = VoxieAgent(self.draft, access=ToolAccess(self.draft.store, self.settings))
        return agent, session

    async def drive(self, agent: Agent, session: AgentSession[Any]) -> None:
        await self.room.start(session, agent, ROOM_OPTIONS)
        lifecycle = AgentLifecycle(
            state=LifecycleState.ACTIVE,
            agent_id=self.agent_id,
            session_id=self._session_id,
            deployment=self.settings.platform_env,
        )
        await self.room.publish(lifecycle.to_attributes())  # the dashboard's view only
        await self.until_ended()

    async def finish(self, session: AgentSession[Any]) -> str | None:
        if self.draft is not None:
            await self.draft.flush()
        return None
