"""The checks of what the platform holds: live rooms the reconciler should have healed, stored
agents that no longer validate, and sessions stuck open. "Should have" is the reconciler's own
rule (`shared.reconciliation`) over the room census (`shared.room_census`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from shared.reconciliation import needs_agent, session_stuck
from shared.room_census import room_states
from shared.rooms import LiveKitRooms
from shared.store import AgentStore
from voxiectl.agents import fleet
from voxiectl.doctor.report import Check, Report, Status


async def rooms_check(report: Report, rooms: LiveKitRooms) -> None:
    s = report.settings
    now = time.time()
    states = await room_states(rooms, await rooms.list_rooms())
    orphaned = [st.room.name for st in states if needs_agent(st, now, s)]
    crowded = [st.room.name for st in states if st.extra_agents]
    if orphaned or crowded:
        parts = []
        if orphaned:
            parts.append(
                f"{len(orphaned)} room(s) with people and no agent for "
                f"{s.agent_startup_timeout_s:g} s or more: {', '.join(orphaned[:10])}"
            )
        if crowded:
            parts.append(f"{len(crowded)} room(s) with several agents: {', '.join(crowded)}")
        report.add(
            Check(
                "rooms",
                Status.FAIL,
                "; ".join(parts),
                "run `voxiectl gc` (re-dispatches and removes extra agents); if they stay, "
                "check the worker checks above and that the backend's reconciler runs",
                {"without_agent": orphaned, "several_agents": crowded},
            )
        )
        return
    report.add(Check("rooms", Status.PASS, f"{len(states)} platform room(s), each served"))


async def agents_check(report: Report, store: AgentStore) -> None:
    found = await fleet(store)
    if found.unreadable:
        ids = [str(i) for i in found.unreadable]
        report.add(
            Check(
                "agents",
                Status.FAIL,
                f"{len(ids)} stored agent(s) no longer validate against the contract and "
                f"cannot run: {', '.join(ids[:10])}",
                "read each with `voxiectl agents show <id>`, then fix or archive it "
                "(PATCH /api/agents/<id>/raw)",
                {"unreadable": ids},
            )
        )
        return
    report.add(Check("agents", Status.PASS, f"{len(found.agents)} agent(s), all valid"))


async def sessions_check(report: Report, store: AgentStore, rooms: LiveKitRooms) -> None:
    live = {room.name for room in await rooms.list_rooms()}
    now = datetime.now(UTC)
    stuck: list[str] = []
    opened = 0
    offset, total = 0, 1
    while offset < total:
        page = await store.list_sessions(open_only=True, limit=200, offset=offset)
        total, offset = page.total, offset + page.limit
        opened += len(page.items)
        for session in page.items:
            if session_stuck(session.started_at, session.room_name in live, now, report.settings):
                stuck.append(f"{session.id} ({session.room_name})")
    if stuck:
        report.add(
            Check(
                "sessions",
                Status.FAIL,
                f"{len(stuck)} session(s) stuck open: {', '.join(stuck[:10])}",
                "run `voxiectl gc` (finalises them as lost); if they come back, the "
                "backend's reconciler is not running",
                {"stuck": stuck},
            )
        )
        return
    report.add(Check("sessions", Status.PASS, f"{opened} open session(s), none stuck"))
