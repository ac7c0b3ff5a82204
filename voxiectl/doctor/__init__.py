"""`voxiectl doctor`: checks the platform the settings describe, and says how to fix what fails.

Each check gives pass / fail / warn / skip, what it saw, and a one-line fix. A check whose
dependency failed is skipped (no database: no agent or session checks). Every call that leaves
the process has a deadline: the store's and LiveKit's own (`STORE_TIMEOUT_S`,
`LIVEKIT_API_TIMEOUT_S`), HTTP calls `http_timeout_s`, and each check as a whole `check_timeout_s`.

One module per check group, run here in order: `config` (the settings), `database` (the database,
its migrations, Supabase), `livekit` (the server, the backend's webhook, webhook delivery),
`workers` (the probe of each agent name; full or missing workers), `rooms` (rooms, agents and
sessions the reconciler should have healed). The doctor reads the platform through its public
seams only: the settings, the store, LiveKit's API and the backend's HTTP API.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.livekit_api import livekit_api
from shared.naming import WorkerRole
from shared.rooms import LiveKitRooms
from shared.settings import ConfigError, Settings
from shared.store import AgentStore
from voxiectl.doctor import config, database, livekit, rooms, workers
from voxiectl.doctor.report import Check, Options, Report, Status, failed

__all__ = ["Check", "Options", "Status", "failed", "run"]


async def run(
    build_settings: Callable[[], Settings], options: Options | None = None
) -> list[Check]:
    options = options or Options()
    try:
        settings = build_settings()
    except ConfigError as exc:
        return [config.unloadable(exc)]
    report = Report(settings, options)
    report.add(config.settings_check(settings))
    store = await report.guarded("database", lambda: database.database(report))
    try:
        await report.guarded("supabase", lambda: database.supabase(report))
        if settings.livekit_configured:
            await _with_livekit(report, store)
        else:
            _without_livekit(report)
            if store is None:
                report.skip("agents", "the database is not reachable")
            else:
                await report.guarded("agents", lambda: rooms.agents_check(report, store))
            report.skip("sessions", "LiveKit is not configured")
    finally:
        if store is not None:
            await store.close()
    return report.checks


def _without_livekit(report: Report) -> None:
    report.add(livekit.unconfigured())
    names = ("webhook", *_worker_names(report.settings), "agent names", "webhook delivery", "rooms")
    for name in names:
        report.skip(name, "LiveKit is not configured")


async def _with_livekit(report: Report, store: AgentStore | None) -> None:
    s = report.settings
    async with livekit_api(s) as client:
        lk = LiveKitRooms(client, timeout_s=s.livekit_api_timeout_s)
        live = await report.guarded("livekit", lambda: livekit.livekit(report, lk))
        await report.guarded("webhook", lambda: livekit.webhook(report))
        if live is None:
            for name in (*_worker_names(s), "agent names", "webhook delivery", "rooms"):
                report.skip(name, "LiveKit is not reachable with these credentials")
        else:
            before = await livekit.webhooks_received(report)
            await workers.workers(report, lk)
            await report.guarded("webhook delivery", lambda: livekit.delivery(report, before))
            await report.guarded("rooms", lambda: rooms.rooms_check(report, lk))
        if store is None:
            for name in ("agents", "sessions"):
                report.skip(name, "the database is not reachable")
            return
        await report.guarded("agents", lambda: rooms.agents_check(report, store))
        if live is None:
            report.skip("sessions", "LiveKit is not reachable with these credentials")
        else:
            await report.guarded("sessions", lambda: rooms.sessions_check(report, store, lk))


def _worker_names(s: Settings) -> list[str]:
    return [f"worker {s.worker_agent_name(role)}" for role in WorkerRole]
