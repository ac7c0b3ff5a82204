"""A live room as `GET /api/rooms` shows it, from what LiveKit lists and the agent publishes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from livekit.protocol import models

from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from shared.naming import agent_room_name, parse_room_name
from shared.room_census import RoomState


def test_a_room_in_its_grace_period_shows_the_session_and_the_seconds_left() -> None:
    agent_id, session_id = uuid.uuid4(), uuid.uuid4()
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    name = agent_room_name(agent_id)
    published = AgentLifecycle(
        state=LifecycleState.GRACE,
        agent_id=agent_id,
        session_id=session_id,
        deployment="dev",
        grace_ends_at=now + timedelta(seconds=42),
    )
    agent = models.ParticipantInfo(
        identity="agent-AJ_x",
        kind=models.ParticipantInfo.Kind.AGENT,
        attributes=published.to_attributes(),
    )
    room = models.Room(name=name, creation_time=int(now.timestamp()) - 30)
    parsed = parse_room_name(name)
    assert parsed is not None
    view = RoomState(room=room, name=parsed, humans=[], agents=[agent]).view(now)
    assert view.state == "grace" and view.grace_remaining_s == 42
    assert view.session_id == session_id and view.agent_id == agent_id
    assert view.model_dump(mode="json")["session_id"] == str(session_id)
