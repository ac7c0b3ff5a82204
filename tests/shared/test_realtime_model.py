"""The realtime model both workers build: at the configured endpoint, and closing cleanly after
its connection failed for good (the plugin's own session raises the failure again on close)."""

from __future__ import annotations

import asyncio

import pytest
from livekit.agents import APIConnectionError, APIConnectOptions, llm
from livekit.plugins import openai

from shared.realtime_model import RealtimeModel, realtime_model
from tests.conftest import make_settings
from tests.support.openai import ApiError, OpenAIDouble

ONCE = APIConnectOptions(max_retry=0, timeout=5)


async def failed(model: openai.realtime.RealtimeModel) -> openai.realtime.RealtimeSession:
    session = model.session()
    errors: list[llm.RealtimeModelError] = []
    session.on("error", errors.append)
    with pytest.raises(llm.RealtimeError):
        await asyncio.wait_for(session.generate_reply(), 5)
    assert errors and not errors[-1].recoverable  # the failure is reported where it belongs
    return session


async def test_a_session_whose_connection_failed_for_good_closes_without_raising(
    openai_double: OpenAIDouble,
) -> None:
    openai_double.refuse(ApiError("invalid_api_key", "Incorrect API key provided.", status=401))
    ours = RealtimeModel(api_key="sk-wrong", base_url=openai_double.base_url, conn_options=ONCE)
    plugin = openai.realtime.RealtimeModel(
        api_key="sk-wrong", base_url=openai_double.base_url, conn_options=ONCE
    )
    await (await failed(ours)).aclose()  # what lets AgentSession finish closing
    with pytest.raises(APIConnectionError):  # the plugin's behaviour this module exists for
        await (await failed(plugin)).aclose()
    await ours.aclose()
    await plugin.aclose()


def test_the_model_is_built_at_the_realtime_endpoint() -> None:
    settings = make_settings(
        openai_api_key="EMPTY",
        openai_base_url="http://gateway.internal:4000/v1",
        openai_realtime_base_url="wss://realtime.example.com/v1",
    )
    model = realtime_model(settings, model="gpt-realtime-1.5", voice="cedar")
    assert isinstance(model, RealtimeModel)
    assert (model.model, model.provider) == ("gpt-realtime-1.5", "realtime.example.com")
