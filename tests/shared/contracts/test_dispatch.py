from __future__ import annotations

import json
from uuid import uuid4

import pytest
from structlog.testing import capture_logs

from shared.contracts import DispatchMetadata, RoomMetadata, SessionKind
from shared.contracts.dispatch import (
    OPERATOR_OWNER_ID,
    names_a_user,
    user_id_of,
    user_identity,
)
from shared.naming import RoomKind


def test_dispatch_metadata_round_trips() -> None:
    meta = DispatchMetadata(
        agent_id=uuid4(), deployment="prod", kind=SessionKind.TEST, requested_by="user:abc"
    )
    assert DispatchMetadata.parse(meta.to_json()) == meta
    assert json.loads(meta.to_json())["kind"] == "test"


def test_the_version_a_call_runs_round_trips_and_anything_else_is_malformed() -> None:
    base = {"agent_id": str(uuid4()), "deployment": "prod", "kind": "test", "requested_by": "u"}
    for version in (3, "draft"):
        meta = DispatchMetadata.parse(json.dumps({**base, "version": version, "agent_version": 7}))
        assert meta is not None and (meta.version, meta.agent_version) == (version, 7)
        assert DispatchMetadata.parse(meta.to_json()) == meta
    # Left out (a dispatch from before versions): the spawner runs the published version.
    legacy = DispatchMetadata.parse(json.dumps(base))
    assert legacy is not None and legacy.version is None
    for bad in (0, -1, "latest", 1.5, 2**31):
        assert DispatchMetadata.parse(json.dumps({**base, "version": bad})) is None, bad


def test_voxie_creation_metadata_has_no_agent() -> None:
    raw = '{"agent_id": null, "deployment": "dev", "kind": "creation", "requested_by": "u"}'
    meta = DispatchMetadata.parse(raw)
    assert meta is not None and meta.agent_id is None and meta.kind is SessionKind.CREATION


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    raw = '{"deployment": "dev", "kind": "live", "requested_by": "u", "priority": 3}'
    assert DispatchMetadata.parse(raw) is not None


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[]",
        '"a string"',
        '{"deployment": "dev", "kind": "test"}',  # requested_by missing
        '{"deployment": "Prod Env", "kind": "test", "requested_by": "u"}',
        '{"deployment": "prod\\n", "kind": "test", "requested_by": "u"}',
        '{"deployment": "dev", "kind": "party", "requested_by": "u"}',
        '{"agent_id": "not-a-uuid", "deployment": "dev", "kind": "test", "requested_by": "u"}',
        '{"deployment": "dev", "kind": "test", "requested_by": "' + "u" * 5000 + '"}',
        b"\xff\xfe",
    ],
)
def test_malformed_metadata_is_logged_and_gives_none(raw: str | bytes) -> None:
    with capture_logs() as logs:
        assert DispatchMetadata.parse(raw) is None
    assert logs and logs[0]["event"] == "metadata_malformed"
    assert logs[0]["log_level"] == "warning"


@pytest.mark.parametrize("raw", ["", None])
def test_absent_metadata_gives_none_quietly(raw: str | None) -> None:
    with capture_logs() as logs:
        assert DispatchMetadata.parse(raw) is None
    assert logs == []


def test_room_metadata() -> None:
    agent_id = uuid4()
    assert RoomMetadata.parse(RoomMetadata(agent_id=agent_id).to_json()) == RoomMetadata(
        agent_id=agent_id
    )
    assert RoomMetadata.parse('{"agent_id": "nope"}') is None


def test_a_users_identity_is_user_and_their_uuid() -> None:
    from uuid import UUID

    from shared.contracts.dispatch import user_identity

    user = UUID("9b1d2c3e-0000-4000-8000-00000000a11c")
    assert user_identity(user) == "user:9b1d2c3e-0000-4000-8000-00000000a11c"


def test_session_kinds_map_to_room_kinds_and_back() -> None:
    assert SessionKind.CREATION.room_kind is RoomKind.CREATION
    assert SessionKind.TEST.room_kind is SessionKind.LIVE.room_kind is RoomKind.AGENT
    for room in RoomKind:
        assert SessionKind.default_for(room).room_kind is room
    assert SessionKind.default_for(RoomKind.AGENT) is SessionKind.TEST


def test_user_identities_round_trip() -> None:
    user = uuid4()
    assert user_id_of(user_identity(user)) == user
    for identity in ("operator", "user:", "user:not-a-uuid", f"service:{user}", str(user)):
        assert user_id_of(identity) is None


def test_the_operators_nil_owner_id_names_no_user() -> None:
    assert not names_a_user(OPERATOR_OWNER_ID) and names_a_user(uuid4())
    assert user_id_of(user_identity(OPERATOR_OWNER_ID)) is None
    assert user_id_of("user:00000000-0000-0000-0000-000000000000") is None
