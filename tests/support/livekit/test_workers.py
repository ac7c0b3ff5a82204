"""The `/agent` worker protocol and the server's dispatch rules, with scripted workers."""

from __future__ import annotations

import datetime
import time

import aiohttp
import jwt
import pytest
from livekit import api
from livekit.protocol import agent

from tests.support.livekit import LiveKitDouble
from tests.support.livekit.conftest import Connect
from tests.support.livekit.raw_worker import RawWorker, next_offer

pytestmark = pytest.mark.timeout(60)


async def create_room(
    client: api.LiveKitAPI, name: str, *agent_names: str, metadata: str = ""
) -> api.Room:
    return await client.room.create_room(
        api.CreateRoomRequest(
            name=name,
            agents=[api.RoomAgentDispatch(agent_name=n, metadata=metadata) for n in agent_names],
        )
    )


async def participants(client: api.LiveKitAPI, room: str) -> dict[str, api.ParticipantInfo]:
    listed = await client.room.list_participants(api.ListParticipantsRequest(room=room))
    return {p.identity: p for p in listed.participants}


# --- registration --------------------------------------------------------------------------


async def test_register_returns_worker_id_and_server_info(
    livekit: LiveKitDouble, connect: Connect
) -> None:
    worker = await connect("spawner-test")
    assert worker.worker_id.startswith("AW_")
    [view] = await livekit.workers("spawner-test")
    assert view.id == worker.worker_id
    assert view.status == agent.WorkerStatus.WS_AVAILABLE


async def test_server_info_and_pong(livekit: LiveKitDouble) -> None:
    worker = await RawWorker.connect(livekit, register=False)
    try:
        await worker.send(agent.WorkerMessage(register=agent.RegisterWorkerRequest(agent_name="x")))
        info = (await worker.receive("register")).register.server_info
        assert info.edition == api.ServerInfo.Edition.Standard
        assert info.protocol > 0 and info.version and info.node_id
        await worker.send(agent.WorkerMessage(ping=agent.WorkerPing(timestamp=1234)))
        pong = (await worker.receive("pong")).pong
        assert pong.last_timestamp == 1234
        assert abs(pong.timestamp - time.time() * 1000) < 60_000
    finally:
        await worker.close()


@pytest.mark.parametrize(
    "grants",
    [None, api.VideoGrants(room_admin=True, room="x")],
    ids=["no-token", "no-agent-grant"],
)
async def test_agent_socket_needs_the_agent_grant(
    livekit: LiveKitDouble, grants: api.VideoGrants | None
) -> None:
    headers = {}
    if grants is not None:
        token = api.AccessToken(livekit.api_key, livekit.api_secret).with_grants(grants).to_jwt()
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{livekit.ws_url}/agent", headers=headers)
    assert refused.value.status == 401


async def test_a_first_message_other_than_register_closes_the_socket(
    livekit: LiveKitDouble,
) -> None:
    worker = await RawWorker.connect(livekit, register=False)
    try:
        await worker.send(agent.WorkerMessage(ping=agent.WorkerPing(timestamp=1)))
        with pytest.raises(ConnectionError):
            await worker.receive()
        assert await livekit.workers() == []
    finally:
        await worker.close()


async def test_a_malformed_message_ends_the_connection_not_the_server(
    livekit: LiveKitDouble, connect: Connect
) -> None:
    broken = await connect("a")
    healthy = await connect("a")
    await broken.send_raw(b"\xff\xff\xff")  # not a WorkerMessage
    with pytest.raises(ConnectionError):
        await broken.receive()
    await healthy.sync()
    assert [v.id for v in await livekit.workers("a")] == [healthy.worker_id]


# --- dispatch rules ------------------------------------------------------------------------


async def test_named_workers_get_only_explicit_dispatches(
    livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    named = await connect("spawner-test")
    unnamed = await connect("")

    await create_room(livekit_api, "explicit", "spawner-test")
    assert (await named.offer()).room.name == "explicit"
    assert await unnamed.nothing_within(0.3)

    # No agents in CreateRoom: one automatic dispatch, to unnamed workers only.
    await create_room(livekit_api, "automatic")
    assert (await unnamed.offer()).room.name == "automatic"
    assert await named.nothing_within(0.3)
    dispatches = await livekit_api.agent_dispatch.list_dispatch("automatic")
    assert [d.agent_name for d in dispatches] == [""]


async def test_every_create_dispatch_adds_a_job(
    livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    worker = await connect("voxie-test")
    await create_room(livekit_api, "room-1", "voxie-test")
    first = await worker.offer()
    for _ in range(2):
        await livekit_api.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name="voxie-test", room="room-1")
        )
    second, third = await worker.offer(), await worker.offer()
    assert len({first.id, second.id, third.id}) == 3
    assert len({first.dispatch_id, second.dispatch_id, third.dispatch_id}) == 3
    assert len(await livekit_api.agent_dispatch.list_dispatch("room-1")) == 3


async def test_create_dispatch_creates_a_missing_room(
    livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    named, unnamed = await connect("voxie-test"), await connect("")
    await livekit_api.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(agent_name="voxie-test", room="fresh", metadata="{}")
    )
    assert (await named.offer()).metadata == "{}"
    # The room it created had no agents of its own, so unnamed workers are dispatched too.
    assert (await unnamed.offer()).room.name == "fresh"
    rooms = await livekit_api.room.list_rooms(api.ListRoomsRequest(names=["fresh"]))
    assert len(rooms.rooms) == 1


# --- offers and assignment -----------------------------------------------------------------


async def test_accept_assigns_with_a_join_token(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    worker = await connect("spawner-test")
    room = await create_room(livekit_api, "agent-1", "spawner-test", metadata='{"kind":"test"}')

    job = await worker.offer()
    assert job.id.startswith("AJ_") and job.dispatch_id.startswith("AD_")
    assert (job.room.name, job.room.sid) == ("agent-1", room.sid)
    assert (job.agent_name, job.metadata, job.type) == (
        "spawner-test",
        '{"kind":"test"}',
        agent.JobType.JT_ROOM,
    )
    assert job.state.worker_id == worker.worker_id

    await worker.answer(job, identity="agent-voice", name="Voice", attributes={"a": "1"})
    assignment = (await worker.receive("assignment")).assignment
    assert assignment.job.id == job.id
    assert assignment.url == ""  # OSS: the worker uses its own URL
    assert assignment.job.state.participant_identity == "agent-voice"

    claims = api.TokenVerifier(livekit.api_key, livekit.api_secret).verify(assignment.token)
    assert claims.identity == "agent-voice" and claims.name == "Voice"
    assert claims.kind == "agent"
    assert claims.video is not None
    assert (claims.video.room_join, claims.video.room, claims.video.agent) == (
        True,
        "agent-1",
        True,
    )
    assert claims.attributes == {"a": "1", "lk.agent_name": "spawner-test"}

    present = await participants(livekit_api, "agent-1")
    assert present["agent-voice"].kind == api.ParticipantInfo.Kind.AGENT
    rooms = await livekit_api.room.list_rooms(api.ListRoomsRequest(names=["agent-1"]))
    assert rooms.rooms[0].num_participants == 0  # agents are not counted

    [dispatch] = await livekit_api.agent_dispatch.list_dispatch("agent-1")
    assert [j.id for j in dispatch.state.jobs] == [job.id]
    assert dispatch.state.jobs[0].state.status == agent.JobStatus.JS_RUNNING


async def test_agent_token_expires_in_an_hour(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    worker = await connect("a")
    await create_room(livekit_api, "r", "a")
    assignment = await worker.accept(await worker.offer())
    claims = jwt.decode(assignment.token, livekit.api_secret, algorithms=["HS256"])
    lifetime = datetime.timedelta(seconds=claims["exp"] - claims["nbf"])
    assert lifetime == datetime.timedelta(hours=1)


async def test_reject_with_terminate_ends_the_job(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    first, second = await connect("a"), await connect("a")
    await create_room(livekit_api, "r", "a")
    offered_to, job = await next_offer([first, second])
    other = second if offered_to is first else first
    await offered_to.answer(job, available=False, terminate=True)
    assert await other.nothing_within(0.5)
    assert await offered_to.nothing_within(0.1)  # no assignment either
    [dispatch] = await livekit_api.agent_dispatch.list_dispatch("r")
    assert dispatch.state.jobs[0].state.status == agent.JobStatus.JS_SUCCESS
    assert await participants(livekit_api, "r") == {}


async def test_declining_passes_the_job_to_the_next_worker(
    livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    workers = [await connect("a") for _ in range(3)]
    await create_room(livekit_api, "r", "a")
    seen: list[RawWorker] = []
    for _ in range(2):
        offered_to, job = await next_offer([w for w in workers if w not in seen])
        seen.append(offered_to)
        await offered_to.answer(job, available=False)
    [last] = [w for w in workers if w not in seen]
    assignment = await last.accept(await last.offer(), identity="agent-last")
    assert assignment.job.state.worker_id == last.worker_id
    assert set(await participants(livekit_api, "r")) == {"agent-last"}


async def test_a_silent_worker_loses_the_job(connect: Connect) -> None:
    with LiveKitDouble(assign_timeout=0.5) as livekit:
        async with livekit.api() as client:
            silent = await RawWorker.connect(livekit, "a")
            try:
                await create_room(client, "r", "a")
                await silent.offer()  # and no answer
                await livekit.settle()
                [dispatch] = await client.agent_dispatch.list_dispatch("r")
                assert list(dispatch.state.jobs) == []  # dropped, as the server does
                assert await livekit.jobs() == []
            finally:
                await silent.close()


async def test_a_full_worker_is_skipped(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    full, free = await connect("a"), await connect("a")
    await full.report_load(0.2, agent.WorkerStatus.WS_FULL)
    for n in range(5):
        await create_room(livekit_api, f"r{n}", "a")
        await free.accept(await free.offer())
    assert await full.nothing_within(0.2)


async def test_no_capacity_drops_the_job(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    worker = await connect("a")
    await worker.report_load(1.0)
    await create_room(livekit_api, "r", "a")
    await livekit.settle()
    assert await worker.nothing_within(0.2)
    [dispatch] = await livekit_api.agent_dispatch.list_dispatch("r")
    assert list(dispatch.state.jobs) == []


async def test_offers_are_weighted_by_load(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    busy, idle = await connect("a"), await connect("a")
    await busy.report_load(0.8)
    await idle.report_load(0.2)
    for n in range(40):
        await create_room(livekit_api, f"r{n}", "a")
        worker, job = await next_offer([busy, idle])
        await worker.accept(job)
    views = {v.id: v for v in await livekit.workers("a")}
    busy_jobs = len(views[busy.worker_id].running_jobs)
    idle_jobs = len(views[idle.worker_id].running_jobs)
    assert busy_jobs + idle_jobs == 40
    # Weights 0.2 and 0.8: the idle worker takes about four jobs in five.
    assert busy_jobs >= 1
    assert idle_jobs >= 2 * busy_jobs


# --- job lifecycle -------------------------------------------------------------------------


async def test_job_end_removes_the_agent(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    worker = await connect("a")
    await create_room(livekit_api, "r", "a")
    assignment = await worker.accept(await worker.offer(), identity="agent-x")
    await livekit.join("r", "caller")
    await worker.job_ended(assignment.job.id)
    await worker.sync()
    assert set(await participants(livekit_api, "r")) == {"caller"}
    [job] = await livekit.jobs("r")
    assert job.status_name == "JS_SUCCESS"


@pytest.mark.parametrize("how", ["remove-participant", "delete-room", "delete-dispatch"])
async def test_the_server_terminates_the_job(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect, how: str
) -> None:
    worker = await connect("a")
    await create_room(livekit_api, "r", "a")
    assignment = await worker.accept(await worker.offer(), identity="agent-x")
    if how == "remove-participant":
        await livekit_api.room.remove_participant(
            api.RoomParticipantIdentity(room="r", identity="agent-x")
        )
    elif how == "delete-room":
        await livekit_api.room.delete_room(api.DeleteRoomRequest(room="r"))
    else:
        await livekit_api.agent_dispatch.delete_dispatch(assignment.job.dispatch_id, "r")
    termination = (await worker.receive("termination")).termination
    assert termination.job_id == assignment.job.id
    [job] = await livekit.jobs("r")
    if how == "delete-dispatch":
        assert (job.status_name, job.error) == ("JS_SUCCESS", "")
        # The agent stays until its worker reports the job gone.
        assert "agent-x" in await participants(livekit_api, "r")
        await worker.job_ended(job.id)
        await worker.sync()
        assert await participants(livekit_api, "r") == {}
    else:
        assert (job.status_name, job.error) == ("JS_FAILED", "agent worker left the room")


async def test_a_lost_worker_loses_its_jobs_and_nothing_redispatches(
    livekit: LiveKitDouble, livekit_api: api.LiveKitAPI, connect: Connect
) -> None:
    doomed = await connect("a")
    await create_room(livekit_api, "r", "a")
    await doomed.accept(await doomed.offer(), identity="agent-x")
    await livekit.join("r", "caller")
    survivor = await connect("a")

    await doomed.close()

    async def agent_gone() -> bool:
        return set(await participants(livekit_api, "r")) == {"caller"}

    await livekit.wait_for(agent_gone, what="the lost worker's agent to leave")
    assert [v.id for v in await livekit.workers("a")] == [survivor.worker_id]
    assert await survivor.nothing_within(0.5)
    [job] = await livekit.jobs("r")
    assert (job.status_name, job.error) == ("JS_FAILED", "worker disconnected")


async def test_a_job_update_for_an_unknown_job_is_ignored(
    livekit: LiveKitDouble, connect: Connect
) -> None:
    worker = await connect("a")
    await worker.job_ended("AJ_unknown")
    await worker.answer(agent.Job(id="AJ_unknown"))
    await worker.sync()
    assert [v.id for v in await livekit.workers("a")] == [worker.worker_id]


async def test_outage_cuts_workers_off_and_refuses_them(
    livekit: LiveKitDouble, connect: Connect
) -> None:
    worker = await connect("a")
    async with livekit.outage():
        with pytest.raises(ConnectionError):
            await worker.receive()
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await RawWorker.connect(livekit, "a")
    again = await connect("a")
    assert again.worker_id
