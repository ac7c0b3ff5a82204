"""Which agent a room gets, on a real server (issue 13, flows 2, 3 and 4): one agent per room
even when dispatched twice (the spawner's rooms and Voxie's); rooms that are not the spawner's
get no agent; two deployments that share an agent name each run only their own jobs.
"""

from __future__ import annotations

import functools
import json
import uuid

import httpx
import pytest
from livekit import api

from shared.contracts import DispatchMetadata, SessionKind
from shared.contracts.lifecycle import PREFIX
from shared.naming import agent_room_name, voxie_room_name
from shared.store.postgres import PostgresStore
from tests.e2e.support import eventually, healthy, registered, spawn
from tests.spawner.conftest import create_agent_room, dispatch_metadata, new_agent
from tests.support.human import Human
from tests.support.livekit_server import api_client, join_token
from tests.support.platform import OPERATOR, Platform
from tests.support.processes import ServiceProcess
from voxiectl.livekit_local import LiveKitServer

STATE = f"{PREFIX}state"
SESSION_ID = f"{PREFIX}session_id"
SPAWNER = "spawner-test"
VOXIE = "voxie-test"
MAX_TRIES = 20  # LiveKit picks a worker at random (weighted by load): both get offers long before


@pytest.mark.parametrize("worker", ["spawner", "voxie"])
async def test_a_second_dispatch_leaves_by_itself_and_records_nothing(
    worker: str,
    platform: Platform,
    http: httpx.AsyncClient,
    store: PostgresStore,
    lk: LiveKitServer,
) -> None:
    """Both workers, one rule (`shared.call`): a job that finds another agent in its room leaves
    before it starts a call, so the room keeps one agent and one session record."""
    backend = platform.backend()
    process = platform.spawner() if worker == "spawner" else platform.voxie()
    await healthy(http, platform.api, backend)
    await registered(process)
    if worker == "spawner":
        agent = await store.create_agent(new_agent())
        opened = await spawn(http, platform.api, agent.id)
        name, metadata = SPAWNER, dispatch_metadata(agent.id)
    else:
        response = await http.post(
            f"{platform.api}/api/voxie/sessions",
            json={"owner_id": str(uuid.uuid4())},
            headers=OPERATOR,
        )
        assert response.status_code == 201, response.text
        opened = response.json()
        name, metadata = VOXIE, _creation_metadata()
    room = opened["room_name"]
    human = await Human.join(opened["livekit_url"], opened["token"])
    try:
        first = await human.agent_attribute(STATE, "active", within=60)
        async with api_client(lk) as lkapi:
            await lkapi.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=name, room=room, metadata=metadata)
            )
        await eventually(
            lambda: process.events("another_agent_in_room", room=room),
            what="the second job to see the first agent",
        )
        await eventually(
            lambda: len(process.events("job_accepted", room=room)) == 2, what="two jobs"
        )
        assert [a.identity for a in human.agents()] == [first.identity]
        assert first.attributes[STATE] == "active"
        sessions = (await store.list_sessions(room_name=room)).items
        assert [str(s.id) for s in sessions] == [first.attributes[SESSION_ID]]
    finally:
        await human.leave()


def _creation_metadata() -> str:
    return DispatchMetadata(
        deployment="test", kind=SessionKind.CREATION, requested_by=f"user:{uuid.uuid4()}"
    ).to_json()


async def test_rooms_that_are_not_the_spawners_get_no_agent(
    platform: Platform, http: httpx.AsyncClient, store: PostgresStore, lk: LiveKitServer
) -> None:
    spawner = platform.spawner()
    await registered(spawner)
    agent = await store.create_agent(new_agent())
    other = await store.create_agent(new_agent())
    plain = f"plain-{uuid.uuid4().hex[:8]}"
    creation = voxie_room_name()
    mismatch = agent_room_name(agent.id)
    async with api_client(lk) as lkapi:
        # No dispatch at all: the server dispatches to unnamed workers, and ours are named.
        await lkapi.room.create_room(api.CreateRoomRequest(name=plain))
        await lkapi.room.create_room(
            api.CreateRoomRequest(
                name=creation,
                agents=[
                    api.RoomAgentDispatch(agent_name=SPAWNER, metadata=dispatch_metadata(None))
                ],
            )
        )
        # The room's metadata names another agent than its name and its dispatch do.
        await lkapi.room.create_room(
            api.CreateRoomRequest(
                name=mismatch,
                metadata=json.dumps({"agent_id": str(other.id)}),
                agents=[
                    api.RoomAgentDispatch(agent_name=SPAWNER, metadata=dispatch_metadata(agent.id))
                ],
            )
        )
        for room, verdict in ((creation, "wrong_room"), (mismatch, "agent_mismatch")):
            await eventually(
                functools.partial(spawner.events, "job_refused", room=room, verdict=verdict),
                what=f"{room} refused as {verdict}",
            )
        # A control room dispatched the backend's way gets its agent; the others still have none.
        control = await create_agent_room(lkapi, SPAWNER, agent.id)
        humans = [
            await Human.join(lk.url, join_token(lk, name, f"user:{n}"))
            for n, name in enumerate((plain, creation, mismatch, control))
        ]
        try:
            await humans[-1].one_agent(within=60)
            for human in humans[:-1]:
                assert not human.agents()
        finally:
            for human in humans:
                await human.leave()
    assert not spawner.events("job_accepted", room=plain)
    assert not spawner.events("job_accepted", room=creation)
    assert not spawner.events("job_accepted", room=mismatch)


async def test_two_deployments_under_one_agent_name_each_run_their_own(
    platform: Platform, http: httpx.AsyncClient, lk: LiveKitServer
) -> None:
    """The seeds' staging outage, on a real server: `test` and `staging` both register
    `spawner-test`; LiveKit offers jobs to either; each passes the other's on, loudly."""
    deployments: dict[str, ServiceProcess] = {
        "test": platform.spawner("spawner-test"),
        "staging": platform.spawner(
            "spawner-staging", PLATFORM_ENV="staging", SPAWNER_AGENT_NAME=SPAWNER
        ),
    }
    await registered(*deployments.values())
    ran: list[tuple[str, str]] = []
    async with api_client(lk) as lkapi:
        for attempt in range(MAX_TRIES):
            deployment = ("test", "staging")[attempt % 2]
            # An unknown agent: the worker that accepts refuses it at load, cheaply.
            room = await create_agent_room(lkapi, SPAWNER, uuid.uuid4(), deployment=deployment)
            runner = await eventually(
                functools.partial(_accepted_by, deployments, room), what=f"a worker for {room}"
            )
            ran.append((deployment, runner))
            if all(p.events("agent_name_shared_by_two_deployments") for p in deployments.values()):
                break
    assert all(deployment == runner for deployment, runner in ran), ran
    for name, process in deployments.items():
        warnings = process.events("agent_name_shared_by_two_deployments")
        assert warnings, f"{name} was never offered the other deployment's job in {len(ran)}"
        assert all(w["ours"] == name and w["theirs"] != name for w in warnings)


def _accepted_by(deployments: dict[str, ServiceProcess], room: str) -> str | None:
    for name, process in deployments.items():
        if process.events("job_accepted", room=room):
            return name
    return None
