"""AgentConfig → Agent + AgentSession: the pure mapping, testable without a room.

- instructions from the config (plus the language when it is not English);
- the OpenAI Realtime model with the config's model and voice by default, or an STT → LLM → TTS
  pipeline when `pipeline` asks for it (the same voice on the TTS);
- the greeting as the agent's first turn (`on_enter`): spoken as is where the session can say
  text (a TTS, or text mode), otherwise the realtime model is asked to say exactly it;
- every model at its configured OpenAI-compatible endpoint (`Settings.openai_base_url_for`),
  the summary model included;
- tools from the config (`spawner.tools`);
- room options: the session survives the last human leaving (the grace period decides, not the
  SDK), and noise cancellation only where it works (LiveKit Cloud, or `NOISE_CANCELLATION=on`).

`Models` is the seam tests use: they pass a scripted LLM and get the same Agent and session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from livekit.agents import Agent, AgentSession, llm, stt, tts
from livekit.agents.types import NOT_GIVEN, NotGivenOr
from livekit.agents.voice import room_io

# Plugins register on import, which LiveKit allows on the main thread only: import them here.
# Noise cancellation stays imported even where it is off (it then logs "not authorized" twice
# per connection off LiveKit Cloud): without its filter loaded, livekit 1.1.21 under the thread
# executor sometimes never answers one of two simultaneous room connects, and the FFI's panic
# ("timed out waiting for ReadyForRoomEventRequest") takes the whole replica down. Measured:
# tests/e2e/test_scaling.py failed in 5 of 5 runs on a loaded machine without it, 0 of 2 with it.
from livekit.plugins import noise_cancellation, openai

from shared.contracts import AgentConfig, Pipeline
from shared.realtime_model import realtime_model
from shared.settings import Settings
from spawner.tools import ToolContext, end_call_tool, http_tool

# The STT → LLM → TTS pipeline's models (the config's `model` names a realtime model).
PIPELINE_STT_MODEL = "gpt-4o-mini-transcribe"
PIPELINE_LLM_MODEL = "gpt-4.1-mini"
PIPELINE_TTS_MODEL = "gpt-4o-mini-tts"


@dataclass(frozen=True)
class Models:
    llm: llm.LLM[Any] | llm.RealtimeModel
    stt: stt.STT[Any] | None = None
    tts: tts.TTS[Any] | None = None


class SpawnedAgent(Agent):
    """One user-created agent; greets first when its config has a greeting."""

    def __init__(self, config: AgentConfig, *, tools: list[llm.Tool | llm.Toolset]) -> None:
        super().__init__(instructions=instructions_for(config), tools=tools)
        self.config = config

    async def on_enter(self) -> None:
        greeting = self.config.greeting
        if not greeting:
            return
        session = self.session
        if isinstance(session.llm, llm.RealtimeModel) and session.tts is None:
            # The realtime model cannot speak given text verbatim; ask it to.
            session.generate_reply(
                instructions=f"Greet the caller with exactly these words: {greeting}"
            )
        else:
            session.say(greeting)


def instructions_for(config: AgentConfig) -> str:
    if config.language.split("-")[0] == "en":
        return config.instructions
    return (
        f"{config.instructions}\n\nSpeak the language with code '{config.language}' "
        "unless the caller clearly prefers another."
    )


def build_tools(
    config: AgentConfig, context: ToolContext, *, on_end_call: Callable[[], object]
) -> list[llm.Tool | llm.Toolset]:
    tools: list[llm.Tool | llm.Toolset] = []
    for spec in config.tools:
        if spec.type == "http":
            tools.append(http_tool(spec, context))
        elif spec.name == "end_call":
            tools.append(end_call_tool(on_end_call))
    return tools


def build_agent(
    config: AgentConfig, context: ToolContext, *, on_end_call: Callable[[], object]
) -> SpawnedAgent:
    return SpawnedAgent(config, tools=build_tools(config, context, on_end_call=on_end_call))


def models_for(config: AgentConfig, settings: Settings) -> Models:
    key = openai_key(settings)
    if config.pipeline is Pipeline.STT_LLM_TTS:
        return Models(
            llm=openai.LLM(
                model=PIPELINE_LLM_MODEL,
                api_key=key,
                base_url=settings.openai_base_url_for("llm"),
            ),
            stt=openai.STT(
                model=PIPELINE_STT_MODEL,
                language=config.language.split("-")[0],
                use_realtime=True,
                api_key=key,
                base_url=settings.openai_base_url_for("stt"),
            ),
            tts=openai.TTS(
                model=PIPELINE_TTS_MODEL,
                voice=config.voice,
                api_key=key,
                base_url=settings.openai_base_url_for("tts"),
            ),
        )
    return Models(llm=realtime_model(settings, model=config.model, voice=config.voice))


def summary_model(settings: Settings) -> llm.LLM[Any]:
    """The cheap text model that writes the end-of-call summary (`SUMMARY_MODEL`)."""
    return openai.LLM(
        model=settings.summary_model,
        api_key=openai_key(settings),
        base_url=settings.openai_base_url_for("summary"),
    )


def openai_key(settings: Settings) -> NotGivenOr[str]:
    """The configured key, or NOT_GIVEN so the plugin reads OPENAI_API_KEY itself."""
    return settings.openai_api_key.get_secret_value() or NOT_GIVEN


def build_session(
    config: AgentConfig, settings: Settings, *, models: Models | None = None
) -> AgentSession[Any]:
    chosen = models or models_for(config, settings)
    kwargs: dict[str, Any] = {"llm": chosen.llm}
    if chosen.stt is not None:
        kwargs["stt"] = chosen.stt
    if chosen.tts is not None:
        kwargs["tts"] = chosen.tts
    return AgentSession(**kwargs)


def noise_cancellation_enabled(settings: Settings) -> bool:
    if settings.noise_cancellation != "auto":
        return settings.noise_cancellation == "on"
    host = urlparse(settings.livekit_url).hostname or ""
    return host.endswith(".livekit.cloud")


def room_options(settings: Settings) -> room_io.RoomOptions:
    audio_input: room_io.AudioInputOptions | bool = True
    if noise_cancellation_enabled(settings):
        audio_input = room_io.AudioInputOptions(noise_cancellation=noise_cancellation.BVC())
    return room_io.RoomOptions(audio_input=audio_input, close_on_disconnect=False)
