"""The scripted LLM drives a real AgentSession: text, tool calls with their outputs, usage."""

from __future__ import annotations

from livekit.agents import Agent, AgentSession, function_tool
from livekit.agents.voice.run_result import RunResult

from tests.support.scripted_llm import MODEL, Reply, Request, ScriptedLLM, ToolCall


class Counter(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You count things.")
        self.added: list[int] = []

    @function_tool
    async def add(self, amount: int) -> str:
        """Adds `amount` to the tally."""
        self.added.append(amount)
        return f"tally is {sum(self.added)}"


async def test_replies_tool_calls_and_usage_flow_through_a_real_session() -> None:
    model = ScriptedLLM([Reply(calls=[ToolCall("add", {"amount": 3})]), "Three so far."])
    agent = Counter()
    async with AgentSession(llm=model) as session:
        await session.start(agent)
        result: RunResult[None] = await session.run(user_input="add three")

        result.expect.next_event().is_function_call(name="add", arguments={"amount": 3})
        result.expect.next_event().is_function_call_output(output="tally is 3")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        usage = session.usage

    assert agent.added == [3]
    model.assert_consumed()
    first, second = model.requests
    assert "You count things." in first.instructions
    assert first.tool_names == ("add",)
    assert second.last_tool_output is not None
    assert second.last_tool_output.output == "tally is 3"
    assert any(getattr(u, "model", None) == MODEL for u in usage.model_usage)


async def test_a_responder_sees_the_conversation_and_overruns_are_reported() -> None:
    def echo(request: Request) -> str:
        said = [m.text_content for m in request.chat_ctx.messages() if m.role == "user"]
        return f"you said {said[-1]}"

    async with AgentSession(llm=ScriptedLLM(echo)) as session:
        await session.start(Agent(instructions="Echo."))
        result: RunResult[None] = await session.run(user_input="hello")
        result.expect.next_event().is_message(role="assistant")
        assert "you said hello" in str(session.history.items[-1].text_content)  # type: ignore[union-attr]

    exhausted = ScriptedLLM([])
    async with AgentSession(llm=exhausted) as session:
        await session.start(Agent(instructions="Quiet."))
        await session.run(user_input="anything")
    assert exhausted.overruns >= 1
