"""Real `python -m voxie start` processes against the LiveKit double and the real database.

Two workers register under the same agent name `voxie-test`, as two deployments sharing a
LiveKit project would: `test` (PLATFORM_ENV=test) and `staging` (PLATFORM_ENV=staging with
VOXIE_AGENT_NAME=voxie-test). Each must take only its own deployment's creation rooms. The
double has no SFU, so an accepted job fails at `ctx.connect()`; that failure is recorded.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from livekit import api

from shared.contracts import CallSession, SessionKind, SessionStatus
from shared.naming import agent_room_name, voxie_room_name
from shared.store.postgres import PostgresStore
from tests.support.livekit import NO_SFU, JobView, LiveKitDouble
from tests.support.livekit.processes import serving
from tests.support.livekit.rooms import AGENT
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.timeout(180)

AGENT_NAME = "voxie-test"
USER = uuid.uuid4()
MAX_TRIES = 20  # each pick is about even: a miss this long is a broken double, not chance


class VoxieProcess(ServiceProcess):
    def __init__(
        self, livekit: LiveKitDouble, directory: Path, database_url: str, env: dict[str, str]
    ) -> None:
        label = env["PLATFORM_ENV"]
        super().__init__(
            ["-m", "voxie", "start"],
            directory,
            label=label,
            env={
                **livekit.env(),
                "DATABASE_URL": database_url,
                "WORKER_HTTP_PORT": "0",
                "WORKER_IDLE_PROCESSES": "1",
                "SPOOL_DIR": str(directory / f"spool-{label}"),
                "LOG_FORMAT": "json",
                **env,
            },
        )

    @property
    def worker_id(self) -> str | None:
        registered = self.events("voxie_registered")
        return str(registered[0]["worker_id"]) if registered else None


@pytest.fixture(scope="module")
def double() -> Iterator[LiveKitDouble]:
    with LiveKitDouble(seed=7) as livekit:
        yield livekit


@pytest.fixture(scope="module")
async def workers(
    double: LiveKitDouble, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, VoxieProcess]]:
    directory = tmp_path_factory.mktemp("voxie")
    started = {
        "test": VoxieProcess(double, directory, database_url, {"PLATFORM_ENV": "test"}),
        "staging": VoxieProcess(
            double,
            directory,
            database_url,
            {
                "PLATFORM_ENV": "staging",
                "VOXIE_AGENT_NAME": AGENT_NAME,
                "OPENAI_API_KEY": "sk-not-used-by-these-tests",
            },
        ),
    }
    async with serving(double, started, AGENT_NAME, started_event="voxie_registered"):
        yield started


@pytest.fixture
async def client(double: LiveKitDouble) -> AsyncIterator[api.LiveKitAPI]:
    async with double.api() as livekit_api:
        yield livekit_api


def metadata(deployment: str = "test", **values: Any) -> str:
    return json.dumps(
        {
            "agent_id": None,
            "deployment": deployment,
            "kind": "creation",
            "requested_by": f"user:{USER}",
            **values,
        }
    )


async def dispatch(client: api.LiveKitAPI, room: str, dispatch_metadata: str = "") -> None:
    await client.room.create_room(
        api.CreateRoomRequest(
            name=room,
            agents=[api.RoomAgentDispatch(agent_name=AGENT_NAME, metadata=dispatch_metadata)],
        )
    )


async def one_job(double: LiveKitDouble, room: str) -> JobView:
    async def launched() -> bool:
        return bool(await double.jobs(room))

    await double.wait_for(launched, what=f"the job of {room}")
    [job] = await double.jobs(room)
    return job


async def sessions_of(store: PostgresStore, room: str) -> list[CallSession]:
    return (await store.list_sessions(room_name=room)).items


async def failed_session(double: LiveKitDouble, store: PostgresStore, room: str) -> CallSession:
    async def recorded() -> bool:
        found = await sessions_of(store, room)
        return bool(found) and found[0].status is not SessionStatus.ACTIVE

    await double.wait_for(recorded, within=30, what=f"the session of {room} to end")
    [session] = await sessions_of(store, room)
    return session


async def test_registers_accepts_its_rooms_and_fails_visibly_without_an_sfu(
    double: LiveKitDouble,
    workers: dict[str, VoxieProcess],
    client: api.LiveKitAPI,
    store: PostgresStore,
) -> None:
    views = await double.workers(AGENT_NAME)
    assert {v.id for v in views} == {p.worker_id for p in workers.values()}

    room = voxie_room_name()
    await dispatch(client, room, metadata())
    job = await one_job(double, room)
    assert job.worker_id == workers["test"].worker_id
    assert job.participant_identity  # accepted and assigned

    session = await failed_session(double, store, room)
    assert (session.kind, session.status, session.end_reason) == (
        SessionKind.CREATION,
        SessionStatus.FAILED,
        "error",
    )
    assert session.owner_id == USER and session.deployment == "test"
    assert session.participant_identity == f"user:{USER}" and session.job_id == job.id
    assert session.error is not None and NO_SFU in session.error

    async def agent_gone() -> bool:
        listed = await client.room.list_participants(api.ListParticipantsRequest(room=room))
        return not listed.participants

    await double.wait_for(agent_gone, what="the failed job's agent to leave")


@pytest.mark.parametrize(
    ("room", "dispatch_metadata", "why"),
    [
        (agent_room_name(uuid.uuid4()), metadata(), "wrong_room"),
        ("lobby-" + uuid.uuid4().hex[:8], metadata(), "wrong_room"),
        (voxie_room_name(), "", "missing_metadata"),
        (voxie_room_name(), "{not json", "malformed_metadata"),
        (voxie_room_name(), metadata(requested_by="operator"), "is not 'user:<uuid>'"),
        (voxie_room_name(), metadata(kind="test"), "runs creation sessions"),
    ],
)
async def test_rejects_other_rooms_and_unusable_sessions_for_good(
    double: LiveKitDouble,
    workers: dict[str, VoxieProcess],
    client: api.LiveKitAPI,
    store: PostgresStore,
    room: str,
    dispatch_metadata: str,
    why: str,
) -> None:
    await dispatch(client, room, dispatch_metadata)
    job = await one_job(double, room)
    # Ended by the worker's answer (terminate=True), never assigned to anyone.
    assert (job.status_name, job.participant_identity) == ("JS_SUCCESS", "")
    refusals = [
        e
        for p in workers.values()
        for e in p.events("job_refused")
        if e.get("room") == room and why in f"{e.get('verdict')} {e.get('reason')}"
    ]
    assert len(refusals) == 1, [p.output()[-2000:] for p in workers.values()]
    assert await sessions_of(store, room) == []
    listed = await client.room.list_participants(api.ListParticipantsRequest(room=room))
    assert list(listed.participants) == []


async def test_another_deployments_job_is_passed_to_its_own_worker(
    double: LiveKitDouble,
    workers: dict[str, VoxieProcess],
    client: api.LiveKitAPI,
    store: PostgresStore,
) -> None:
    other = {"test": workers["staging"], "staging": workers["test"]}
    for deployment, wrong in other.items():
        # Offers are load-weighted picks: dispatch until one reached the wrong worker first.
        for _ in range(MAX_TRIES):
            room = voxie_room_name()
            await dispatch(client, room, metadata(deployment))
            job = await one_job(double, room)
            assert job.worker_id == workers[deployment].worker_id, (deployment, room)
            session = await failed_session(double, store, room)
            assert session.deployment == deployment
            passed = [
                e
                for e in wrong.events("agent_name_shared_by_two_deployments")
                if e.get("room") == room
            ]
            if passed:
                assert (passed[0]["ours"], passed[0]["theirs"]) == (wrong.label, deployment)
                break
        else:
            pytest.fail(f"no {deployment} job was offered to {wrong.label} in {MAX_TRIES} tries")


async def test_leaves_a_room_another_agent_reached_first(
    double: LiveKitDouble,
    workers: dict[str, VoxieProcess],
    client: api.LiveKitAPI,
    store: PostgresStore,
) -> None:
    room = voxie_room_name()
    await double.create_room(room)
    await double.join(room, "stray-agent", kind=AGENT)
    await double.advance(1)  # the stray agent joined a second before Voxie's assignment
    await client.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(agent_name=AGENT_NAME, room=room, metadata=metadata())
    )

    def left() -> bool:
        return any(
            e.get("room") == room
            for p in workers.values()
            for e in p.events("another_agent_in_room")
        )

    await double.wait_for(left, within=30, what="Voxie to see the other agent")
    [job] = await double.jobs(room)
    assert job.participant_identity  # it was accepted, then stepped aside

    async def only_the_stray_remains() -> bool:
        listed = await client.room.list_participants(api.ListParticipantsRequest(room=room))
        return [p.identity for p in listed.participants] == ["stray-agent"]

    await double.wait_for(only_the_stray_remains, what="Voxie to leave")
    assert await sessions_of(store, room) == []  # it never started a session


def test_unsafe_settings_refuse_to_start_with_a_clear_message(tmp_path: Path) -> None:
    process = ServiceProcess(
        ["-m", "voxie", "start"],
        tmp_path,
        label="refused",
        env={"PLATFORM_ENV": "prod", "LIVEKIT_API_KEY": "devkey", "VOXIE_VOICE": "robot"},
    )
    deadline = time.monotonic() + 60
    while process.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.returncode == 2, process.output()[-2000:]
    output = process.output()
    assert "voxie: refusing to start" in output and "Traceback" not in output
    assert "VOXIE_VOICE: unsupported voice 'robot'" in output
