"""One agent per room: when two reach the same room, the oldest stays and every other leaves.

The rule every component applies — the spawner and Voxie before and after they connect, the
reconciler when it finds a room with several agents — so all of them pick the same survivor:

- agents are participants of kind AGENT, or with the agent permission (`is_agent`); humans are
  people in a browser or app (STANDARD) or on a phone (SIP) without the agent or recorder
  permission (`is_human`) — the rule the reconciler, the room views and the spawner's grace
  period all count by, and that the dashboard mirrors (tests/support/participants.json);
- the oldest is the one that joined first (`joined_at_ms`, else `joined_at`); two that joined in
  the same millisecond are ordered by identity, so each of them computes the same answer alone;
- an agent not listed yet (it has not joined) is younger than every agent that has.

    ahead = agents_ahead(listed.participants, own_identity)   # non-empty: this agent leaves
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from livekit import api
from livekit.protocol.models import ParticipantInfo

from shared.logging import get_logger

if TYPE_CHECKING:
    from livekit.agents import JobContext

log = get_logger(__name__)

AGENT_KIND = ParticipantInfo.Kind.AGENT
# People: a browser or app, or a phone. LiveKit's server API and its rtc SDK number these kinds
# (and AGENT) alike, so one rule reads both; egress, ingress and later kinds are never people.
HUMAN_KINDS = frozenset({ParticipantInfo.Kind.STANDARD, ParticipantInfo.Kind.SIP})


def human_kind(kind: int, *, agent: bool = False, recorder: bool = False) -> bool:
    """The rule: a person (STANDARD or SIP kind) without the agent or recorder permission. The rtc
    SDK's participants carry no such permissions: there the kind alone decides."""
    return kind in HUMAN_KINDS and not (agent or recorder)


def is_human(participant: ParticipantInfo) -> bool:
    permission = participant.permission
    return human_kind(participant.kind, agent=permission.agent, recorder=permission.recorder)


def is_agent(participant: ParticipantInfo) -> bool:
    return participant.kind == AGENT_KIND or participant.permission.agent


def seniority(participant: ParticipantInfo) -> tuple[float, str]:
    """The sort key of the rule: join time in milliseconds, then identity."""
    joined_ms = participant.joined_at_ms or participant.joined_at * 1000
    return (float(joined_ms), participant.identity)


def agents_oldest_first(participants: Iterable[ParticipantInfo]) -> list[ParticipantInfo]:
    """The room's agents, the one that stays first."""
    return sorted((p for p in participants if is_agent(p)), key=seniority)


def agents_ahead(participants: Iterable[ParticipantInfo], own_identity: str) -> list[str]:
    """The agents that stay ahead of `own_identity`: if any, that agent leaves the room."""
    agents = agents_oldest_first(participants)
    mine = next(
        (seniority(p) for p in agents if p.identity == own_identity),
        (float("inf"), own_identity),
    )
    return [p.identity for p in agents if p.identity != own_identity and seniority(p) < mine]


async def agents_ahead_in_room(ctx: JobContext, *, timeout_s: float) -> list[str]:
    """`agents_ahead` for this job's agent, by the server's participant list. A worker checks
    before connecting (an agent already there) and after (one that arrived meanwhile).

    If LiveKit cannot be asked within `timeout_s` (LIVEKIT_API_TIMEOUT_S), the answer is "none":
    serving the caller beats leaving a room empty, and a second agent left by mistake is
    removed by the reconciler with this same rule.
    """
    room = ctx.job.room.name
    try:
        listed = await asyncio.wait_for(
            ctx.api.room.list_participants(api.ListParticipantsRequest(room=room)), timeout_s
        )
    except Exception as exc:
        log.warning("participants_not_listed", room=room, error=f"{type(exc).__name__}: {exc}")
        return []
    ahead = agents_ahead(listed.participants, ctx.token_claims().identity)
    if ahead:
        log.warning("another_agent_in_room", room=room, agents=ahead, action="leaving")
    return ahead
