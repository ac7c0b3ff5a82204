"""Voxie's admission after the shared routing: who owns a session, which sessions it runs —
pure functions, tested without a configured server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest

from shared.contracts import DispatchMetadata, SessionKind
from shared.contracts.dispatch import OPERATOR_OWNER_ID
from shared.routing import Decision, Verdict
from voxie.admission import Refusal, admit
from voxie.draft import NotAnOwner, owner_id_from


def accepted(kind: SessionKind = SessionKind.CREATION, requested_by: str = "") -> Decision:
    user = requested_by or f"user:{uuid4()}"
    metadata = DispatchMetadata(deployment="dev", kind=kind, requested_by=user)
    return Decision(Verdict.ACCEPT, metadata=metadata)


def test_the_owner_is_the_user_the_backend_minted_the_session_for() -> None:
    user = uuid4()
    assert owner_id_from(f"user:{user}") == user
    assert admit(accepted(requested_by=f"user:{user}")) == user
    nil_user = f"user:{OPERATOR_OWNER_ID}"
    for identity in (
        "operator",
        "user:",
        "user:not-a-uuid",
        f"service:{user}",
        str(user),
        nil_user,
    ):
        with pytest.raises(NotAnOwner, match="not a user's 'user:<uuid>'"):
            owner_id_from(identity)
    for identity in ("operator", nil_user):
        refused = admit(accepted(requested_by=identity))
        assert isinstance(refused, Refusal) and "users only" in refused.reason


def test_only_creation_sessions_are_admitted() -> None:
    assert admit(accepted(SessionKind.TEST)) == Refusal("Voxie runs creation sessions, not 'test'")
    assert admit(Decision(Verdict.ACCEPT)) == Refusal("the dispatch carries no metadata")


def test_admission_needs_no_configured_server() -> None:
    # Production settings without secrets would refuse to build; the pure rules never build them.
    probe = "import sys, voxie.admission; print('voxie.worker' in sys.modules)"
    env = {"PLATFORM_ENV": "prod", "PATH": ""}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, env=env, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr
