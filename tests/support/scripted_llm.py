"""A scripted `llm.LLM`: real `AgentSession`s in text mode, with replies the test decides.

The session, its tools, the store and the validation are all real; only the model is replaced.
Each `chat()` call takes the next reply of the script — text, tool calls, or both — and streams
it as `ChatChunk`s the way a provider plugin does, with token usage, so `AgentSession.usage`
and the chat history come out as they would in production.

    llm = ScriptedLLM([
        Reply(calls=[ToolCall("set_name", {"name": "Clarence"})]),
        "Clarence it is. What should Clarence say first?",
    ])
    async with AgentSession(llm=llm) as session:
        await session.start(agent)
        result = await session.run(user_input="Call it Clarence")
        result.expect.next_event().is_function_call(name="set_name")

A script may also be a function of the conversation so far (`Responder`), for replies that
depend on what the session sent (e.g. echoing a tool's output). Every request is kept in
`requests` (instructions, history and tool names), so a test can assert what the model was
shown. `assert_consumed()` fails a test that left replies unused or asked for more than the
script had.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from livekit.agents import llm
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

MODEL = "scripted-llm"


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    text: str = ""
    calls: tuple[ToolCall, ...] | list[ToolCall] = ()
    prompt_tokens: int = 40
    completion_tokens: int = 8


@dataclass(frozen=True)
class Request:
    """What one `chat()` call was given."""

    chat_ctx: llm.ChatContext
    tool_names: tuple[str, ...]

    @property
    def instructions(self) -> str:
        """The system/developer messages, joined: what the agent was told to be."""
        return "\n".join(
            msg.text_content or ""
            for msg in self.chat_ctx.messages()
            if msg.role in ("system", "developer")
        )

    @property
    def last_tool_output(self) -> llm.FunctionCallOutput | None:
        outputs = [i for i in self.chat_ctx.items if isinstance(i, llm.FunctionCallOutput)]
        return outputs[-1] if outputs else None


Responder = Callable[[Request], Reply | str]


class ScriptedLLM(llm.LLM[Literal["error"]]):
    def __init__(self, script: Iterable[Reply | str] | Responder) -> None:
        super().__init__()
        self._replies: deque[Reply | str] = deque()
        self._responder: Responder | None = None
        if callable(script):
            self._responder = script
        else:
            self._replies.extend(script)
        self.requests: list[Request] = []
        self.overruns = 0
        self._call_ids = itertools.count(1)

    @property
    def model(self) -> str:
        return MODEL

    @property
    def provider(self) -> str:
        return "tests"

    def push(self, *replies: Reply | str) -> None:
        """Appends replies, for scripts written turn by turn."""
        self._replies.extend(replies)

    def assert_consumed(self) -> None:
        assert not self._replies, f"{len(self._replies)} scripted replies never asked for"
        assert self.overruns == 0, f"the model was asked {self.overruns} times past the script"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        request = Request(chat_ctx.copy(), tuple(_tool_name(t) for t in tools or []))
        self.requests.append(request)
        return _ScriptedStream(
            self,
            reply=self._next(request),
            call_ids=self._call_ids,
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
        )

    def _next(self, request: Request) -> Reply:
        if self._responder is not None:
            answer = self._responder(request)
        elif self._replies:
            answer = self._replies.popleft()
        else:
            # An empty reply ends the turn quietly; assert_consumed() reports it.
            self.overruns += 1
            answer = Reply()
        return Reply(text=answer) if isinstance(answer, str) else answer


class _ScriptedStream(llm.LLMStream):
    def __init__(
        self,
        scripted: ScriptedLLM,
        *,
        reply: Reply,
        call_ids: itertools.count[int],
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(scripted, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._reply = reply
        self._call_ids = call_ids

    async def _run(self) -> None:
        chunk_id = f"scripted-{next(self._call_ids)}"
        reply = self._reply
        if reply.text:
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=chunk_id, delta=llm.ChoiceDelta(role="assistant", content=reply.text)
                )
            )
        if reply.calls:
            calls = [
                llm.FunctionToolCall(
                    name=call.name,
                    arguments=json.dumps(call.arguments),
                    call_id=f"call_{next(self._call_ids)}",
                )
                for call in reply.calls
            ]
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=chunk_id, delta=llm.ChoiceDelta(role="assistant", tool_calls=calls)
                )
            )
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=chunk_id,
                usage=llm.CompletionUsage(
                    completion_tokens=reply.completion_tokens,
                    prompt_tokens=reply.prompt_tokens,
                    total_tokens=reply.prompt_tokens + reply.completion_tokens,
                ),
            )
        )


def _tool_name(tool: llm.Tool) -> str:
    info = getattr(tool, "info", None)
    return str(getattr(info, "name", None) or getattr(tool, "id", type(tool).__name__))
