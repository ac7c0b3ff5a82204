"""The worker checks, by the probe of `shared.contracts.probe`: a room `platform-probe-*` with one
dispatch to the agent name; every worker registered under the name appends who it is (its
deployment) and passes the job on, so one probe finds all of them, including a worker of another
deployment registered under this deployment's name (the seeds' staging outage). The probe room is
deleted afterwards; nothing joins it and nothing is written to the database.

LiveKit offers a job only to workers below their load threshold, so a full worker never sees the
probe, and LiveKit's API lists no workers. When no worker of this deployment answered, the room
census tells "full" from "not there": agents of this name running calls now, and the worker of
each (the room's dispatch names it), are workers that are registered and took no job.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import Any

from shared.contracts.lifecycle import AgentLifecycle
from shared.contracts.probe import ProbeAnswer, ProbeAnswers
from shared.naming import WorkerRole, probe_room_name
from shared.room_census import room_states
from shared.rooms import LiveKitRooms, NewRoom
from voxiectl.doctor.report import Check, Options, Report, Status


@dataclass(frozen=True)
class ProbeResult:
    agent_name: str
    answers: list[ProbeAnswer]
    first_answer_s: float | None
    # Workers LiveKit gave the job to that ended it without answering (not this platform's code).
    silent_workers: list[str]


async def workers(report: Report, rooms: LiveKitRooms) -> None:
    s = report.settings
    roles = (WorkerRole.VOXIE, WorkerRole.SPAWNER)
    names = [s.worker_agent_name(role) for role in roles]
    results = await asyncio.gather(
        *(probe(rooms, name, report.options) for name in names), return_exceptions=True
    )
    collisions: list[str] = []
    for role, name, result in zip(roles, names, results, strict=True):
        if isinstance(result, BaseException):
            report.add(
                Check(
                    f"worker {name}",
                    Status.FAIL,
                    f"the probe failed: {type(result).__name__}: {result}",
                )
            )
            continue
        ours = [a for a in result.answers if a.deployment == s.platform_env]
        if ours:
            report.add(_taking_jobs(result, ours))
        else:
            busy = await report.guarded(
                f"worker {name}", functools.partial(busy_workers, rooms, name, s.platform_env)
            )
            if busy is not None:
                report.add(_none_answered(report, role, result, busy))
        foreign = [a for a in result.answers if a.deployment != s.platform_env]
        if foreign or result.silent_workers:
            collisions.append(_collision(name, s.platform_env, result))
    if collisions:
        report.add(
            Check(
                "agent names",
                Status.FAIL,
                "; ".join(collisions)
                + ". LiveKit load-balances jobs across every worker of a name, so calls "
                "reach the wrong deployment or wait while it refuses them",
                "give each deployment its own PLATFORM_ENV and drop VOXIE_AGENT_NAME / "
                "SPAWNER_AGENT_NAME overrides that reuse another deployment's name",
            )
        )
    else:
        report.add(
            Check(
                "agent names",
                Status.PASS,
                f"only deployment '{s.platform_env}' is registered under " + " and ".join(names),
            )
        )


async def busy_workers(
    rooms: LiveKitRooms, agent_name: str, deployment: str
) -> dict[str, list[str]]:
    """The workers of `agent_name` and `deployment` running calls now: worker id → its rooms."""
    busy: dict[str, list[str]] = {}
    for state in await room_states(rooms, await rooms.list_rooms()):
        agents = [
            a
            for a in state.agents_named(agent_name)
            if (lifecycle := AgentLifecycle.from_attributes(a.attributes)) is None
            or lifecycle.deployment in (None, deployment)
        ]
        if not agents:
            continue
        identities = {a.identity for a in agents}
        for dispatch in await rooms.dispatches(state.room.name):
            for job in dispatch.state.jobs:
                # Earlier jobs of the room (a worker that died) keep their old state.
                if job.state.worker_id and job.state.participant_identity in identities:
                    busy.setdefault(job.state.worker_id, []).append(state.room.name)
    return busy


def _probe_data(result: ProbeResult) -> dict[str, Any]:
    return {
        "agent_name": result.agent_name,
        "workers": [a.model_dump(mode="json") for a in result.answers],
        "first_answer_ms": None
        if result.first_answer_s is None
        else round(result.first_answer_s * 1000, 1),
    }


def _taking_jobs(result: ProbeResult, ours: list[ProbeAnswer]) -> Check:
    data = _probe_data(result)
    where = ", ".join(f"{a.host}/{a.pid}" for a in ours)
    return Check(
        f"worker {result.agent_name}",
        Status.PASS,
        f"{len(ours)} worker(s) registered and taking jobs ({where}); the probe job was "
        f"answered {data['first_answer_ms']:.0f} ms after the room was created",
        data=data,
    )


def _none_answered(
    report: Report, role: WorkerRole, result: ProbeResult, busy: dict[str, list[str]]
) -> Check:
    s = report.settings
    waited = f"{report.options.probe_timeout_s:g} s"
    data = {**_probe_data(result), "full_workers": busy}
    if busy:
        calls = sum(len(rooms) for rooms in busy.values())
        each = "; ".join(f"{worker} runs {', '.join(rooms)}" for worker, rooms in busy.items())
        return Check(
            f"worker {result.agent_name}",
            Status.FAIL,
            f"{len(busy)} {role.value} registered under {result.agent_name}, all full: "
            f"{calls} call(s) running ({each}) and none took the probe job within {waited} "
            "(LiveKit offers jobs only to workers below their load threshold), so new calls "
            "wait for a place",
            f"add {role.value} replicas with PLATFORM_ENV={s.platform_env}, or raise "
            "WORKER_MAX_SESSIONS where the machines have room for more calls",
            data,
        )
    start = f"python -m {role.value} start"
    return Check(
        f"worker {result.agent_name}",
        Status.FAIL,
        f"no {role.value} worker of deployment '{s.platform_env}' took the probe job "
        f"within {waited}: none is registered under {result.agent_name}, or every one is "
        "full without a call running (LiveKit offers jobs only to workers below their load "
        "threshold)",
        f"start one with PLATFORM_ENV={s.platform_env} (`{start}`, or scale the "
        f"{role.value} deployment)",
        data,
    )


async def probe(rooms: LiveKitRooms, agent_name: str, options: Options) -> ProbeResult:
    """Dispatches one probe job to `agent_name` and collects the workers' answers; the room is
    deleted whatever happens. See `shared.contracts.probe`."""
    name = probe_room_name()
    began = time.monotonic()
    await rooms.create(
        NewRoom(
            name=name,
            metadata="",
            agent_name=agent_name,
            dispatch_metadata="",
            empty_timeout_s=60,  # LiveKit removes it even if this process dies first
            departure_timeout_s=1,
            max_participants=1,
        )
    )
    try:
        answers = ProbeAnswers()
        first: float | None = None
        last_change = began
        while True:
            now = time.monotonic()
            if first is None and now - began > options.probe_timeout_s:
                break
            if first is not None and now - last_change > options.probe_settle_s:
                break
            room = await rooms.room(name)
            current = ProbeAnswers.parse(room.metadata if room else "")
            if len(current.answers) > len(answers.answers):
                answers, last_change = current, time.monotonic()
                if first is None:
                    first = last_change - began
            await asyncio.sleep(0.05)
        answered = {a.worker_id for a in answers.answers}
        silent = [
            job.state.worker_id
            for dispatch in await rooms.dispatches(name)
            for job in dispatch.state.jobs
            if job.state.worker_id and job.state.worker_id not in answered
        ]
        return ProbeResult(agent_name, answers.answers, first, silent)
    finally:
        await rooms.delete(name)


def _collision(name: str, ours: str, result: ProbeResult) -> str:
    by_deployment: dict[str, list[str]] = {}
    for answer in result.answers:
        by_deployment.setdefault(answer.deployment, []).append(f"{answer.host}/{answer.pid}")
    named = [
        f"'{d}'{' (this one)' if d == ours else ''} on {', '.join(w)}"
        for d, w in by_deployment.items()
    ]
    text = f"{name} is registered by deployments " + " and ".join(named)
    if result.silent_workers:
        text += (
            f"{' and by' if named else ' by'} worker(s) {', '.join(result.silent_workers)} that "
            "took the probe without answering (not this platform's workers, or an older version)"
        )
    return text
