"""Voxie's own rules around the shared routing: who owns a session, who stays in a room,
how a session's end is named, and what Voxie is told and given."""

from __future__ import annotations

from uuid import uuid4

import pytest
from livekit.agents.voice.events import CloseEvent, CloseReason

from shared.contracts import DispatchMetadata, EndReason, SessionKind
from shared.routing import Decision, Verdict
from shared.settings import ConfigError
from tests.conftest import make_settings
from voxie.agent import ROOM_OPTIONS, voxie_instructions
from voxie.draft import NotAnOwner, owner_id_from
from voxie.worker import AGENT_NAME, admit, end_reason_of


def accepted(kind: SessionKind = SessionKind.CREATION, requested_by: str = "") -> Decision:
    user = requested_by or f"user:{uuid4()}"
    metadata = DispatchMetadata(deployment="dev", kind=kind, requested_by=user)
    return Decision(Verdict.ACCEPT, metadata=metadata)


def test_the_owner_is_the_user_the_backend_minted_the_session_for() -> None:
    user = uuid4()
    assert owner_id_from(f"user:{user}") == user
    assert admit(accepted(requested_by=f"user:{user}")) == user
    for identity in ("operator", "user:", "user:not-a-uuid", f"service:{user}", str(user)):
        with pytest.raises(NotAnOwner, match="not 'user:<uuid>'"):
            owner_id_from(identity)
    assert "not 'user:<uuid>'" in str(admit(accepted(requested_by="operator")))


def test_only_creation_sessions_are_admitted() -> None:
    assert admit(accepted(SessionKind.TEST)) == "Voxie runs creation sessions, not 'test'"
    assert admit(Decision(Verdict.ACCEPT)) == "the dispatch carries no metadata"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (CloseReason.PARTICIPANT_DISCONNECTED, EndReason.USER_HANGUP),
        (CloseReason.ERROR, EndReason.ERROR),
        (CloseReason.JOB_SHUTDOWN, EndReason.SHUTDOWN),
        (CloseReason.USER_INITIATED, EndReason.SHUTDOWN),
    ],
)
def test_end_reasons(reason: CloseReason, expected: EndReason) -> None:
    assert end_reason_of(CloseEvent(reason=reason)) is expected


def test_voxie_registers_under_its_deployment_name_and_reads_typed_chat() -> None:
    assert AGENT_NAME == "voxie-dev"  # the tests' environment: PLATFORM_ENV unset
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
