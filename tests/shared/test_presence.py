"""One agent per room: the oldest stays, every other leaves — the same answer for the workers
deciding alone and for the reconciler looking at the room."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from livekit import rtc
from livekit.protocol.models import ParticipantInfo, ParticipantPermission

from shared.presence import agents_ahead, agents_oldest_first, human_kind, is_agent, is_human
from tests.support.livekit.rooms import AGENT, EGRESS, STANDARD, Kind


def participant(identity: str, joined_ms: int, kind: Kind = AGENT) -> ParticipantInfo:
    return ParticipantInfo(
        identity=identity, kind=kind, joined_at=joined_ms // 1000, joined_at_ms=joined_ms
    )


def survivors(room: list[ParticipantInfo]) -> list[str]:
    """The agents that stay when each agent in `room` applies the rule on its own."""
    return [p.identity for p in room if is_agent(p) and not agents_ahead(room, p.identity)]


def test_the_agent_that_joined_first_stays() -> None:
    room = [
        participant("user:1", 1_000, STANDARD),
        participant("voxie-a", 2_000),
        participant("voxie-b", 3_000),
    ]
    assert agents_ahead(room, "voxie-b") == ["voxie-a"]
    assert agents_ahead(room, "voxie-a") == []
    assert [p.identity for p in agents_oldest_first(room)] == ["voxie-a", "voxie-b"]
    # Not yet listed itself (before connecting): every agent already there is ahead.
    assert agents_ahead(room, "voxie-c") == ["voxie-a", "voxie-b"]
    assert agents_ahead(room[:1], "voxie-c") == []


def test_two_agents_arriving_together_agree_on_one_survivor() -> None:
    # The same millisecond, listed in either order: the identity decides, and each agent
    # computes alone what the reconciler computes for the room.
    for room in (
        [participant("agent-AJ_b", 5_000), participant("agent-AJ_a", 5_000)],
        [participant("agent-AJ_a", 5_000), participant("agent-AJ_b", 5_000)],
    ):
        assert survivors(room) == ["agent-AJ_a"]
        assert agents_oldest_first(room)[0].identity == "agent-AJ_a"
        assert agents_ahead(room, "agent-AJ_b") == ["agent-AJ_a"]


def test_a_server_without_milliseconds_orders_by_seconds() -> None:
    older = ParticipantInfo(identity="agent-z", kind=AGENT, joined_at=10)
    newer = ParticipantInfo(identity="agent-a", kind=AGENT, joined_at=11)
    assert survivors([newer, older]) == ["agent-z"]


def test_only_agents_count() -> None:
    by_permission = ParticipantInfo(
        identity="bot", kind=STANDARD, permission=ParticipantPermission(agent=True), joined_at=1
    )
    room = [
        participant("user:1", 1_000, STANDARD),
        participant("egress", 1_000, EGRESS),
        by_permission,
        participant("agent-AJ_1", 2_000),
    ]
    assert [p.identity for p in agents_oldest_first(room)] == ["bot", "agent-AJ_1"]
    assert agents_ahead(room, "agent-AJ_1") == ["bot"]
    assert survivors(room) == ["bot"]


TABLE = Path(__file__).parents[1] / "support" / "participants.json"


@pytest.mark.parametrize("row", json.loads(TABLE.read_text())["participants"])
def test_who_is_human_and_who_is_an_agent_follows_the_shared_table(row: dict[str, Any]) -> None:
    """The table the dashboard's copy of the rule is tested against too."""
    info = ParticipantInfo(
        identity="p",
        kind=row["kind"],
        permission=ParticipantPermission(agent=row["agent"], recorder=row["recorder"]),
    )
    assert (is_human(info), is_agent(info)) == (row["human"], row["is_agent"])
    if not (row["agent"] or row["recorder"]):  # the rtc SDK's participants carry kinds only
        rtc_kind = rtc.ParticipantKind.Value(f"PARTICIPANT_KIND_{row['kind']}")
        assert human_kind(rtc_kind) is row["human"]
