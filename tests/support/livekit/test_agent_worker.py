"""Real livekit-agents worker processes against the double: registration, answers, assignment.

Four `AgentServer` subprocesses share one double for the module: two named `tester` (`picky`,
which answers by room name at load 0, and `backup`, which accepts everything at load 0.99, so
offers reach `picky` first) and two named `sharer` (loads 0.25 and 0.75).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from livekit import api

from tests.support.livekit import LiveKitDouble
from tests.support.livekit.processes import WorkerProcess

pytestmark = pytest.mark.timeout(120)

SEED = 11


@pytest.fixture(scope="module")
def double() -> Iterator[LiveKitDouble]:
    with LiveKitDouble(seed=SEED) as livekit:
        yield livekit


@pytest.fixture(scope="module")
async def workers(
    double: LiveKitDouble, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, WorkerProcess]]:
    directory: Path = tmp_path_factory.mktemp("workers")
    started = {
        "picky": WorkerProcess(double, directory, label="picky", agent_name="tester", load=0.0),
        "backup": WorkerProcess(
            double, directory, label="backup", agent_name="tester", load=0.99, accept_all=True
        ),
        "light": WorkerProcess(
            double, directory, label="light", agent_name="sharer", load=0.25, accept_all=True
        ),
        "heavy": WorkerProcess(
            double, directory, label="heavy", agent_name="sharer", load=0.75, accept_all=True
        ),
    }
    try:

        async def loads_reported() -> bool:
            # The SDK reports its load every 2.5 s; until then every worker counts as idle.
            views = [*await double.workers("tester"), *await double.workers("sharer")]
            return sorted(round(v.load, 2) for v in views) == [0.0, 0.25, 0.75, 0.99]

        try:
            await double.wait_for(loads_reported, within=60, what="four workers' loads")
        except TimeoutError:
            for process in started.values():
                print(f"--- {process.label} ---\n{process.output()[-3000:]}")
            raise
        yield started
    finally:
        for process in started.values():
            process.stop()


@pytest.fixture
async def client(double: LiveKitDouble) -> AsyncIterator[api.LiveKitAPI]:
    await double.reseed(SEED)  # the same first pick whichever tests ran before
    async with double.api() as livekit_api:
        yield livekit_api


def room(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def dispatch(client: api.LiveKitAPI, name: str, agent_name: str, metadata: str = "") -> None:
    await client.room.create_room(
        api.CreateRoomRequest(
            name=name, agents=[api.RoomAgentDispatch(agent_name=agent_name, metadata=metadata)]
        )
    )


async def participants(client: api.LiveKitAPI, name: str) -> dict[str, api.ParticipantInfo]:
    listed = await client.room.list_participants(api.ListParticipantsRequest(room=name))
    return {p.identity: p for p in listed.participants}


async def test_workers_register_with_their_agent_name(
    double: LiveKitDouble, workers: dict[str, WorkerProcess]
) -> None:
    testers = await double.workers("tester")
    assert len(testers) == 2
    assert all(v.id.startswith("AW_") for v in testers)
    assert len(await double.workers("sharer")) == 2
    assert await double.workers("") == []


async def test_an_accepted_job_is_assigned_and_terminated_with_its_room(
    double: LiveKitDouble, workers: dict[str, WorkerProcess], client: api.LiveKitAPI
) -> None:
    name = room("accept")
    await dispatch(client, name, "tester", metadata='{"agent_id": null}')
    picky = workers["picky"]
    await double.wait_for(lambda: picky.events("assigned", room=name), what="the assignment")

    [assigned] = picky.events("assigned", room=name)
    assert assigned["identity"] == f"agent-{name}"
    assert (assigned["token_room"], assigned["room_join"], assigned["kind"]) == (
        name,
        True,
        "agent",
    )
    assert assigned["metadata"] == '{"agent_id": null}'
    assert assigned["attributes"]["lk.agent.name"] == "tester"
    present = await participants(client, name)
    assert present[f"agent-{name}"].kind == api.ParticipantInfo.Kind.AGENT
    assert present[f"agent-{name}"].name == "Test Agent"

    await client.room.delete_room(api.DeleteRoomRequest(room=name))
    await double.wait_for(
        lambda: picky.events("shutdown", job_id=assigned["job_id"]),
        what="the job to shut down after JobTermination",
    )
    assert workers["backup"].events(room=name) == []


async def test_reject_with_terminate_ends_the_job_there(
    double: LiveKitDouble, workers: dict[str, WorkerProcess], client: api.LiveKitAPI
) -> None:
    name = room("reject")
    await dispatch(client, name, "tester")
    await double.wait_for(lambda: workers["picky"].events("request", room=name), what="offer")
    await double.settle()
    [job] = await double.jobs(name)
    assert job.status_name == "JS_SUCCESS"  # ended by the worker's answer, never assigned
    assert workers["backup"].events(room=name) == []
    assert workers["picky"].events("assigned", room=name) == []
    assert await participants(client, name) == {}


@pytest.mark.parametrize("prefix", ["pass", "silent"])
async def test_reject_without_terminate_goes_to_the_next_worker(
    double: LiveKitDouble, workers: dict[str, WorkerProcess], client: api.LiveKitAPI, prefix: str
) -> None:
    name = room(prefix)
    await dispatch(client, name, "tester")
    backup = workers["backup"]
    await double.wait_for(lambda: backup.events("assigned", room=name), what="the backup")
    assert len(workers["picky"].events("request", room=name)) == 1
    assert workers["picky"].events("assigned", room=name) == []
    [job] = await double.jobs(name)
    [view] = [v for v in await double.workers("tester") if v.id == job.worker_id]
    assert f"agent-{name}" in await participants(client, name)
    assert job.id in view.running_jobs


async def test_two_workers_share_jobs_by_load(
    double: LiveKitDouble, workers: dict[str, WorkerProcess], client: api.LiveKitAPI
) -> None:
    names = [room("done") for _ in range(24)]
    for name in names:
        await dispatch(client, name, "sharer")
    light, heavy = workers["light"], workers["heavy"]

    def all_assigned() -> bool:
        return sum(len(p.events("assigned")) for p in (light, heavy)) >= len(names)

    await double.wait_for(all_assigned, within=60, what="24 assignments")
    light_jobs, heavy_jobs = len(light.events("assigned")), len(heavy.events("assigned"))
    # Offers are weighted by 1 - load (0.75 and 0.25): about three in four go to `light`.
    assert light_jobs + heavy_jobs == 24
    assert heavy_jobs >= 1
    assert light_jobs >= 2 * heavy_jobs

    async def all_ended() -> bool:
        jobs = [job for job in await double.jobs() if job.room in names]
        return len(jobs) == len(names) and all(j.status_name == "JS_SUCCESS" for j in jobs)

    await double.wait_for(all_ended, within=60, what="the jobs to report success")
