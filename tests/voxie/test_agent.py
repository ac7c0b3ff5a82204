"""Voxie's own model comes from settings: model, voice and the OpenAI-compatible endpoint."""

from __future__ import annotations

from tests.conftest import make_settings
from voxie.agent import voxie_llm


def test_voxies_realtime_model_is_built_at_the_configured_endpoint() -> None:
    default = voxie_llm(make_settings(openai_api_key="sk-test", voxie_voice="cedar"))
    assert (default.model, default.provider) == ("gpt-realtime", "api.openai.com")

    settings = make_settings(
        openai_api_key="EMPTY",
        openai_base_url="http://gateway.internal:4000/v1",
        openai_realtime_base_url="wss://realtime.example.com/v1",
    )
    assert voxie_llm(settings).provider == "realtime.example.com"
