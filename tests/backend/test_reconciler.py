"""The reconciler against the LiveKit double, a real worker process and the real store: a worker
killed mid-call is replaced, a second agent is removed, empty rooms and lost sessions are
cleaned up, and only the lease holder among several backends acts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from livekit import api

from backend.app import create_app
from backend.metrics import Metrics
from backend.reconciler import AGENT_UNAVAILABLE_MESSAGE, Reconciler
from shared.contracts import AgentConfig, EndReason, NewCallSession, SessionStatus
from shared.contracts.lifecycle import AgentLifecycle, LifecycleState
from shared.contracts.room_messages import PLATFORM_ROOM_CLOSED
from shared.presence import is_agent
from shared.reconciliation import MAX_REDISPATCHES
from shared.rooms import LiveKitRooms
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.backend.conftest import (
    ALICE,
    OPERATOR,
    SPAWNER,
    AgentFactory,
    RecordingRooms,
    as_user,
    serving,
)
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.processes import WorkerProcess
from tests.support.livekit.rooms import AGENT

pytestmark = pytest.mark.timeout(120)


class Clock:
    """The reconciler's clock: real time plus whatever the test skips ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def skip(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reconciler(
    settings: Settings,
    store: PostgresStore,
    livekit_api: api.LiveKitAPI,
    clock: Clock,
) -> Reconciler:
    return Reconciler(
        settings,
        store,
        LiveKitRooms(livekit_api, timeout_s=settings.livekit_api_timeout_s),
        Metrics(),
        clock=clock,
    )


@pytest.fixture
def start_worker(
    livekit: LiveKitDouble, tmp_path: Path
) -> Iterator[Callable[[str], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(label: str) -> WorkerProcess:
        worker = WorkerProcess(livekit, tmp_path, label=label, agent_name=SPAWNER)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


async def agents_in(livekit_api: api.LiveKitAPI, room: str) -> list[str]:
    response = await livekit_api.room.list_participants(api.ListParticipantsRequest(room=room))
    return [p.identity for p in response.participants if is_agent(p)]


async def spawn(client: httpx.AsyncClient, agent: AgentConfig) -> dict[str, str]:
    response = await client.post(f"/api/agents/{agent.id}/spawn", headers=as_user(ALICE))
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


async def test_a_worker_killed_mid_call_is_replaced_by_a_new_dispatch(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    reconciler: Reconciler,
    clock: Clock,
    make_agent: AgentFactory,
    start_worker: Callable[[str], WorkerProcess],
) -> None:
    first = start_worker("first")
    await livekit.wait_for_workers(1, SPAWNER)
    grant = await spawn(client, await make_agent(ALICE))
    room = grant["room_name"]
    await livekit.join_with_token(grant["token"])
    await livekit.wait_for(lambda: agents_in(livekit_api, room), what="the agent to join")
    await livekit.wait_for(lambda: first.events("assigned", room=room), what="the job to run")

    assert (await reconciler.run_pass()).actions == []  # a healthy call: nothing to do

    first.kill()  # mid-call, no goodbye: LiveKit drops its job and nothing re-dispatches it

    async def agent_gone() -> bool:
        return not await agents_in(livekit_api, room)

    await livekit.wait_for(agent_gone, what="the dead worker's agent to go")
    second = start_worker("second")
    await livekit.wait_for_workers(1, SPAWNER)

    # Within the startup timeout of the room nothing happens yet ...
    assert (await reconciler.run_pass()).actions == []
    # ... past it, the room is dispatched again, with the original request's metadata.
    clock.skip(reconciler.settings.agent_startup_timeout_s + 1)
    report = await reconciler.run_pass()
    assert [(a.action, a.room) for a in report.actions] == [("redispatched", room)]
    dispatches = await livekit_api.agent_dispatch.list_dispatch(room)
    assert len(dispatches) == 2
    assert {d.agent_name for d in dispatches} == {SPAWNER}
    assert dispatches[0].metadata == dispatches[1].metadata
    await livekit.wait_for(lambda: agents_in(livekit_api, room), what="the new agent")
    await livekit.wait_for(lambda: second.events("assigned", room=room), what="the new job")
    # A recent dispatch, an agent present: the next pass leaves it alone.
    assert (await reconciler.run_pass()).actions == []


async def test_after_three_redispatches_the_room_is_closed_and_told_why(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    settings: Settings,
    store: PostgresStore,
    clock: Clock,
    make_agent: AgentFactory,
) -> None:
    rooms = RecordingRooms(LiveKitRooms(livekit_api, timeout_s=settings.livekit_api_timeout_s))
    reconciler = Reconciler(settings, store, rooms, Metrics(), clock=clock)
    grant = await spawn(client, await make_agent(ALICE))  # no worker runs at all
    room = grant["room_name"]
    await livekit.join_with_token(grant["token"])
    for attempt in range(MAX_REDISPATCHES):
        clock.skip(settings.agent_startup_timeout_s + 1)
        report = await reconciler.run_pass()
        assert [a.action for a in report.actions] == ["redispatched"], attempt
    assert len(await livekit_api.agent_dispatch.list_dispatch(room)) == 1 + MAX_REDISPATCHES

    clock.skip(settings.agent_startup_timeout_s + 1)
    report = await reconciler.run_pass()
    assert [a.action for a in report.actions] == ["closed_no_agent"]
    listed = (await livekit_api.room.list_rooms(api.ListRoomsRequest())).rooms
    assert room not in {r.name for r in listed}
    [(to, topic, payload)] = rooms.sent
    assert (to, topic) == (room, PLATFORM_ROOM_CLOSED)
    assert json.loads(payload) == {
        "code": "agent_unavailable",
        "message": AGENT_UNAVAILABLE_MESSAGE,
    }


async def test_a_second_agent_in_a_room_is_removed_and_the_first_kept(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    reconciler: Reconciler,
    make_agent: AgentFactory,
    start_worker: Callable[[str], WorkerProcess],
) -> None:
    start_worker("only")
    await livekit.wait_for_workers(1, SPAWNER)
    grant = await spawn(client, await make_agent(ALICE))
    room = grant["room_name"]
    await livekit.join_with_token(grant["token"])
    await livekit.wait_for(lambda: agents_in(livekit_api, room), what="the agent")
    [first] = await agents_in(livekit_api, room)
    await livekit.join(room, "agent-duplicate", kind=AGENT)  # as a second dispatch would
    assert len(await agents_in(livekit_api, room)) == 2

    report = await reconciler.run_pass()
    assert [(a.action, a.room) for a in report.actions] == [("removed_extra_agent", room)]
    assert await agents_in(livekit_api, room) == [first]
    assert reconciler.metrics.reconciler_actions.labels("removed_extra_agent")._value.get() == 1


async def test_open_sessions_of_vanished_rooms_are_finalised_as_lost(
    client: httpx.AsyncClient,
    livekit_api: api.LiveKitAPI,
    reconciler: Reconciler,
    store: PostgresStore,
    clock: Clock,
    make_agent: AgentFactory,
) -> None:
    agent = await make_agent(ALICE)
    live_room = (await spawn(client, agent))["room_name"]

    def session(room: str) -> NewCallSession:
        return NewCallSession(
            agent_id=agent.id, owner_id=ALICE, room_name=room, kind="test", deployment="test"
        )

    live = await store.start_session(session(live_room))
    orphan = await store.start_session(session(f"agent-{agent.id}-vanished99"))
    ended = await store.start_session(session(f"agent-{agent.id}-alsogone1"))
    await store.finish_session(ended.id, end_reason=EndReason.USER_HANGUP)

    # A session that started just now may belong to a room made after the listing: left alone.
    assert (await reconciler.run_pass()).actions == []
    clock.skip(60)
    report = await reconciler.run_pass()
    assert [(a.action, a.detail) for a in report.actions] == [
        ("finalised_lost_session", str(orphan.id))
    ]
    lost = await store.get_session(orphan.id)
    assert lost.end_reason is EndReason.LOST and lost.status is SessionStatus.FAILED
    assert (await store.get_session(live.id)).status is SessionStatus.ACTIVE
    assert (await store.get_session(ended.id)).end_reason is EndReason.USER_HANGUP


async def test_empty_rooms_livekit_left_open_are_deleted_but_not_during_grace(
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    reconciler: Reconciler,
    clock: Clock,
) -> None:
    agent_id = UUID("3f2b8c1e-9d4a-4b7e-8f00-2a6c5d9e1b44")
    stale, graceful, other = (
        f"agent-{agent_id}-stale0001",
        f"agent-{agent_id}-grace0001",
        "someone-elses-room",
    )
    for name in (stale, graceful, other):
        await livekit_api.room.create_room(
            api.CreateRoomRequest(name=name, empty_timeout=300, departure_timeout=75)
        )
    await livekit.join(graceful, "agent-g", kind=AGENT)
    grace_ends = datetime.now(UTC) + timedelta(seconds=700)
    await livekit_api.room.update_participant(
        api.UpdateParticipantRequest(
            room=graceful,
            identity="agent-g",
            attributes=AgentLifecycle(
                state=LifecycleState.GRACE, agent_id=agent_id, grace_ends_at=grace_ends
            ).to_attributes(),
        )
    )
    # First sighting: empty, but maybe only just (humans may have left a moment ago).
    assert (await reconciler.run_pass()).actions == []
    clock.skip(300 + 15)
    report = await reconciler.run_pass()
    assert [(a.action, a.room) for a in report.actions] == [("deleted_stale_room", stale)]
    names = {r.name for r in (await livekit_api.room.list_rooms(api.ListRoomsRequest())).rooms}
    assert names == {graceful, other}  # not ours to judge, and one in its grace period
    clock.skip(400)  # past the agent's grace end: it should have closed the room itself
    report = await reconciler.run_pass()
    assert [(a.action, a.room) for a in report.actions] == [("deleted_stale_room", graceful)]


async def test_only_the_lease_holder_among_backends_reconciles(settings: Settings) -> None:
    apps = [create_app(settings), create_app(settings)]  # each with its reconciler loop
    async with serving(apps[0]) as one, serving(apps[1]) as two:
        answers = [(await c.post("/api/gc", headers=OPERATOR)).status_code for c in (one, two)]
        assert sorted(answers) == [200, 409]
        leader = answers.index(200)
        gauges = [app.state.services.metrics.reconciler_leader._value.get() for app in apps]
        assert gauges[leader] == 1 and gauges[1 - leader] == 0


async def test_a_stopped_leader_hands_over_at_once(settings: Settings) -> None:
    async with serving(create_app(settings, reconcile=False)) as standby:
        async with serving(create_app(settings, reconcile=False)) as leader:
            assert (await leader.post("/api/gc", headers=OPERATOR)).status_code == 200
            assert (await standby.post("/api/gc", headers=OPERATOR)).status_code == 409
        # The leader released the lease as it stopped: no waiting for it to expire.
        assert (await standby.post("/api/gc", headers=OPERATOR)).status_code == 200
