"""`python -m spawner console`: a local job no backend dispatched runs the configured agent."""

from __future__ import annotations

from uuid import uuid4

from shared.contracts import SessionKind
from shared.routing import Verdict
from spawner.call import CONSOLE_CALLER, console_decision
from tests.conftest import make_settings


def test_console_runs_the_configured_agent_as_a_test_call() -> None:
    agent_id = uuid4()
    decision = console_decision(make_settings(spawner_console_agent_id=str(agent_id)))
    assert decision.accepted and decision.agent_id == agent_id
    assert decision.metadata is not None
    assert decision.metadata.kind is SessionKind.TEST
    assert decision.metadata.requested_by == CONSOLE_CALLER


def test_console_without_an_agent_or_outside_development_is_refused() -> None:
    assert console_decision(make_settings()).verdict is Verdict.MISSING_METADATA
    production = make_settings(
        platform_env="prod",
        livekit_api_key="key",
        livekit_api_secret="a-real-secret-value",
        database_url="postgresql://db/voxie",
        spawner_console_agent_id=str(uuid4()),
    )
    assert not console_decision(production).accepted
