"""Voxie in a room on a real server (issue 13, flow 9): a session the backend opens gets one
Voxie agent and never a spawner, and its record names the user who will own the agent (for
operator sessions the user it names); Voxie never joins an `agent-*` room. The operator's own
nil owner id owns nothing Voxie builds: a session for it is refused by the backend, and a
dispatch naming it that reaches Voxie anyway is refused by Voxie."""

from __future__ import annotations

import functools
import uuid

import httpx
from livekit import api

from shared.contracts import CallSession
from shared.contracts.dispatch import OPERATOR_OWNER_ID, DispatchMetadata
from shared.naming import voxie_room_name
from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, BOB, JWT_SECRET, as_user
from tests.e2e.support import eventually, healthy, registered
from tests.spawner.conftest import create_agent_room
from tests.support.human import Human
from tests.support.livekit_server import api_client, join_token
from tests.support.platform import OPERATOR, Platform
from voxiectl.livekit_local import LiveKitServer


async def _sessions(store: PostgresStore, room: str) -> list[CallSession]:
    return (await store.list_sessions(room_name=room)).items


async def test_voxie_joins_creation_rooms_only(
    platform: Platform, http: httpx.AsyncClient, lk: LiveKitServer, store: PostgresStore
) -> None:
    backend = platform.backend(SUPABASE_JWT_SECRET=JWT_SECRET)
    voxie = platform.voxie()
    spawner = platform.spawner()
    await healthy(http, platform.api, backend)
    await registered(voxie, spawner)

    # Opened by a user, or with the operator token for a user it names: the record names who
    # will own the agent.
    for headers, body, owner in (
        (as_user(ALICE), None, ALICE),
        (OPERATOR, {"owner_id": str(BOB)}, BOB),
    ):
        response = await http.post(f"{platform.api}/api/voxie/sessions", json=body, headers=headers)
        assert response.status_code == 201, response.text
        opened = response.json()
        room = opened["room_name"]
        human = await Human.join(opened["livekit_url"], opened["token"])
        try:
            joined = await human.one_agent(within=60)
            assert voxie.events("job_accepted", room=room)
            assert joined.identity.startswith("agent-")
            [session] = await eventually(
                functools.partial(_sessions, store, room), what=f"the session of {room}"
            )
            assert session.owner_id == owner and session.kind == "creation"
        finally:
            await human.leave()
        assert not spawner.events("received job request", room=room)

    # The operator token without a user to build for: refused before any room is made. A
    # dispatch naming the operator's nil owner id that reaches Voxie anyway (made by hand in
    # LiveKit): refused by Voxie too, with a reason, and no session recorded.
    refused = await http.post(f"{platform.api}/api/voxie/sessions", headers=OPERATOR)
    assert refused.status_code == 403 and "owner_id" in refused.json()["detail"], refused.text
    nobodys = voxie_room_name()
    nil_owner = DispatchMetadata(
        deployment="test", kind="creation", requested_by=f"user:{OPERATOR_OWNER_ID}"
    )
    async with api_client(lk) as lkapi:
        await lkapi.room.create_room(
            api.CreateRoomRequest(
                name=nobodys,
                agents=[
                    api.RoomAgentDispatch(agent_name="voxie-test", metadata=nil_owner.to_json())
                ],
            )
        )
    [refusal] = await eventually(
        lambda: voxie.events("job_refused", room=nobodys), what="voxie to refuse the nil owner"
    )
    assert "users only" in refusal["reason"], refusal
    assert not voxie.events("job_accepted", room=nobodys)
    assert not await _sessions(store, nobodys)

    # An agent room dispatched to Voxie's name by mistake: Voxie refuses it, nobody joins.
    async with api_client(lk) as lkapi:
        wrong = await create_agent_room(lkapi, "voxie-test", uuid.uuid4())
    await eventually(
        lambda: voxie.events("job_refused", room=wrong, verdict="wrong_room"),
        what="voxie to refuse the agent room",
    )
    visitor = await Human.join(lk.url, join_token(lk, wrong, "user:visitor"))
    try:
        assert not visitor.agents()
    finally:
        await visitor.leave()
    assert not voxie.events("job_accepted", room=wrong)
