"""The optional end-of-call summary (`AgentConfig.summarize`), written by a cheap text model.

The model is injected (`SUMMARY_MODEL` through the OpenAI plugin in production, the scripted LLM
in tests). A failure or a timeout gives no summary, never a failed call record.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from livekit.agents import llm

from shared.contracts.sessions import MAX_SUMMARY
from shared.logging import get_logger

log = get_logger(__name__)

PROMPT = (Path(__file__).parent / "prompts" / "summary.md").read_text(encoding="utf-8")
TIMEOUT_S = 20.0
MAX_TRANSCRIPT_CHARS = 60_000


def transcript_text(history: llm.ChatContext) -> str:
    lines = [
        f"{'Caller' if message.role == 'user' else 'Agent'}: {message.text_content}"
        for message in history.messages()
        if message.role in ("user", "assistant") and message.text_content
    ]
    # The end of a long call matters most for its outcome.
    return "\n".join(lines)[-MAX_TRANSCRIPT_CHARS:]


async def summarize(model: llm.LLM[Any], history: llm.ChatContext) -> str | None:
    text = transcript_text(history)
    if not text:
        return None
    chat = llm.ChatContext()
    chat.add_message(role="system", content=PROMPT)
    chat.add_message(role="user", content=f"Transcript:\n{text}")
    parts: list[str] = []
    try:
        async with asyncio.timeout(TIMEOUT_S):
            async with model.chat(chat_ctx=chat) as stream:
                async for chunk in stream:
                    if chunk.delta is not None and chunk.delta.content:
                        parts.append(chunk.delta.content)
    except Exception as exc:  # the provider's errors vary; a missing summary is fine
        log.warning("summary_failed", error=repr(exc))
        return None
    summary = "".join(parts).strip()
    return summary[:MAX_SUMMARY] or None
