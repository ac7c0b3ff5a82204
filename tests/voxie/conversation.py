"""Drives Voxie in text mode: a real AgentSession with the scripted model, the real store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from livekit.agents import AgentSession, llm
from livekit.agents.voice.run_result import FunctionCallOutputEvent, RunResult

from shared.addresses import Resolver, system_resolver
from shared.settings import Settings
from shared.tool_access import ToolAccess
from tests.conftest import make_settings
from tests.support.scripted_llm import Reply, ScriptedLLM, ToolCall
from voxie.agent import VoxieAgent
from voxie.draft import Draft

GREETING = "Hi, I'm Voxie! What should your agent do?"


def call(tool: str, /, **arguments: Any) -> Reply:
    """A model turn that calls one tool."""
    return Reply(calls=[ToolCall(tool, arguments)])


@dataclass
class Conversation:
    session: AgentSession[None]
    model: ScriptedLLM
    agent: VoxieAgent

    async def say(self, text: str, *replies: Reply | str) -> RunResult[None]:
        """The user says `text`; the model answers with `replies` (tool calls, then words)."""
        self.model.push(*replies)
        result: RunResult[None] = await self.session.run(user_input=text)
        return result

    async def tool(self, tool: str, /, **arguments: Any) -> llm.FunctionCallOutput:
        """The user says something that makes the model call `tool`; its output."""
        result = await self.say(f"(about {tool})", call(tool, **arguments), "Okay.")
        [output] = tool_outputs(result)
        return output


def tool_outputs(result: RunResult[None]) -> list[llm.FunctionCallOutput]:
    return [e.item for e in result.events if isinstance(e, FunctionCallOutputEvent)]


@asynccontextmanager
async def conversation(
    draft: Draft,
    *,
    allowlist: Sequence[str] = (),
    resolve: Resolver = system_resolver,
    settings: Settings | None = None,
) -> AsyncIterator[Conversation]:
    """`allowlist`: the draft owner's egress exemptions, set in the store first."""
    if allowlist:
        await draft.store.set_egress(draft.owner_id, list(allowlist), updated_by="operator")
    access = ToolAccess(draft.store, settings or make_settings())
    model = ScriptedLLM([GREETING])
    agent = VoxieAgent(draft, access=access, resolve=resolve)
    async with AgentSession(llm=model) as session:
        await session.start(agent)
        yield Conversation(session, model, agent)
    model.assert_consumed()
