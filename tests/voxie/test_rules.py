"""What Voxie is: its agent name, its model and voice from the settings, its prompt."""

from __future__ import annotations

import pytest

from shared.settings import ConfigError
from tests.conftest import make_settings
from voxie.agent import ROOM_OPTIONS, voxie_instructions


def test_voxie_reads_typed_chat() -> None:
    assert ROOM_OPTIONS.get_text_input_options() is not None
    assert ROOM_OPTIONS.get_audio_input_options() is not None


def test_voxie_model_and_voice_come_from_settings_and_are_checked() -> None:
    settings = make_settings(voxie_model="gpt-realtime-1.5", voxie_voice="sage")
    assert (settings.voxie_model, settings.voxie_voice) == ("gpt-realtime-1.5", "sage")
    with pytest.raises(ConfigError, match="VOXIE_VOICE: unsupported voice 'robot'"):
        make_settings(voxie_voice="robot")
    with pytest.raises(ConfigError, match="VOXIE_MODEL"):
        make_settings(voxie_model="gpt-2")


def test_the_prompt_lists_every_voice_and_leaves_no_placeholder() -> None:
    prompt = voxie_instructions()
    assert "{voices}" not in prompt
    assert "- marin: warm, natural and clear" in prompt
    assert "save_agent" in prompt and "review_draft" in prompt
