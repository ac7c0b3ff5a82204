"""Test calls and Voxie sessions, observed from LiveKit's side: one room, its metadata, exactly
one dispatch, the timeouts, and a join token good for that room only."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import pytest
from livekit import api

from backend.admission import MAX_PARTICIPANTS, departure_timeout_s
from backend.app import create_app
from shared.contracts import AgentStatus
from shared.contracts.dispatch import OPERATOR_OWNER_ID, DispatchMetadata, RoomMetadata
from shared.naming import parse_room_name
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.backend.conftest import (
    ALICE,
    BOB,
    OPERATOR,
    SPAWNER,
    VOXIE,
    AgentFactory,
    as_user,
    backend_settings,
    serving,
)
from tests.support.livekit import LiveKitDouble
from tests.support.livekit.errors import JoinRefused
from tests.support.tcp_proxy import BlackHole
from voxiectl.livekit_local import free_port


async def rooms_of(livekit_api: api.LiveKitAPI) -> list[api.Room]:
    return list((await livekit_api.room.list_rooms(api.ListRoomsRequest())).rooms)


async def test_spawn_creates_one_room_with_one_dispatch_and_a_one_room_token(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    make_agent: AgentFactory,
    settings: Settings,
    store: PostgresStore,
) -> None:
    agent = await make_agent(ALICE, slug="clarence")
    response = await client.post(f"/api/agents/{agent.id}/spawn", headers=as_user(ALICE))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["agent"]["id"] == str(agent.id) and body["livekit_url"] == livekit.url
    room_name = body["room_name"]
    parsed = parse_room_name(room_name)
    assert parsed is not None and parsed.kind == "agent" and parsed.agent_id == agent.id

    [room] = await rooms_of(livekit_api)
    assert room.name == room_name
    assert RoomMetadata.parse(room.metadata) == RoomMetadata(agent_id=agent.id)
    assert room.departure_timeout >= settings.grace_period_s
    assert room.departure_timeout == departure_timeout_s(settings)
    assert room.empty_timeout == settings.room_empty_timeout_s
    assert room.max_participants == MAX_PARTICIPANTS

    [dispatch] = await livekit_api.agent_dispatch.list_dispatch(room_name)
    assert dispatch.agent_name == SPAWNER
    metadata = DispatchMetadata.parse(dispatch.metadata)
    assert metadata is not None and metadata.session_id is not None
    assert metadata == DispatchMetadata(
        agent_id=agent.id,
        deployment="test",
        kind="test",
        requested_by=f"user:{ALICE}",
        agent_version=agent.version,
        version=1,  # a plain call runs the published version, fixed here
        session_id=metadata.session_id,
    )
    assert body["version"] == 1
    # The call's row is there with the room, before any agent took it: on its owner's list,
    # with the version it runs, no job yet.
    [session] = (await store.list_sessions(owner_id=ALICE, agent_id=agent.id)).items
    assert session.id == metadata.session_id and session.room_name == room_name
    assert (session.kind, session.status, session.job_id) == ("test", "active", None)
    assert (session.agent_version, session.draft_version) == (1, None)
    assert session.participant_identity == f"user:{ALICE}"

    # The token: this caller, this room, join/publish/subscribe/data, short-lived, nothing else.
    claims = api.TokenVerifier(livekit.api_key, livekit.api_secret).verify(body["token"])
    assert claims.identity == f"user:{ALICE}"
    assert claims.video is not None and claims.video.room == room_name
    assert claims.video.room_join and claims.video.can_publish and claims.video.can_subscribe
    assert claims.video.can_publish_data
    assert not (claims.video.room_admin or claims.video.room_create or claims.video.room_list)
    assert not claims.video.agent and claims.room_config is None
    expires = json.loads(_payload(body["token"]))["exp"]
    assert expires - time.time() <= settings.livekit_token_ttl_s
    joined = await livekit.join_with_token(body["token"])
    assert joined.identity == f"user:{ALICE}"
    # As an API credential it is worthless: the double checks grants as the server does.
    async with api.LiveKitAPI(livekit.url, token=body["token"]) as with_token:
        with pytest.raises(api.TwirpError):
            await with_token.room.list_rooms(api.ListRoomsRequest())
        with pytest.raises(api.TwirpError):
            await with_token.room.delete_room(api.DeleteRoomRequest(room=room_name))
    # Still exactly one dispatch after the human arrived.
    assert len(await livekit_api.agent_dispatch.list_dispatch(room_name)) == 1


def _payload(token: str) -> str:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


async def test_spawn_by_slug_and_the_public_url(
    livekit: LiveKitDouble, database_url: str, make_agent: AgentFactory
) -> None:
    settings = backend_settings(livekit, database_url, livekit_public_url="wss://rtc.example")
    await make_agent(ALICE, slug="clarence")
    async with serving(create_app(settings, reconcile=False)) as client:
        response = await client.post("/api/agents/Clarence/spawn", headers=as_user(ALICE))
        assert response.status_code == 201, response.text
        assert response.json()["livekit_url"] == "wss://rtc.example"


@pytest.mark.parametrize(
    ("status", "code"),
    [(AgentStatus.ARCHIVED, "agent-archived"), (AgentStatus.DRAFT, "agent-not-active")],
)
async def test_an_archived_or_draft_agent_is_not_spawned(
    client: httpx.AsyncClient,
    livekit_api: api.LiveKitAPI,
    make_agent: AgentFactory,
    status: AgentStatus,
    code: str,
) -> None:
    agent = await make_agent(ALICE, status=status)
    response = await client.post(f"/api/agents/{agent.id}/spawn", headers=as_user(ALICE))
    assert response.status_code == 409 and response.json()["type"].endswith(code)
    assert await rooms_of(livekit_api) == []


async def test_someone_elses_or_a_missing_agent_is_404_and_no_room(
    client: httpx.AsyncClient, livekit_api: api.LiveKitAPI, make_agent: AgentFactory
) -> None:
    agent = await make_agent(ALICE)
    for path in (f"/api/agents/{agent.id}/spawn", "/api/agents/nobody-here/spawn"):
        response = await client.post(path, headers=as_user(BOB))
        assert response.status_code == 404
    # Neither an id nor a slug: no agent can have it.
    assert (await client.post("/api/agents/%25/spawn", headers=OPERATOR)).status_code == 404
    bad_body = await client.post(
        f"/api/agents/{agent.id}/spawn",
        content=b"{oops",
        headers={**as_user(ALICE), "Content-Type": "application/json"},
    )
    assert bad_body.status_code == 400
    assert await rooms_of(livekit_api) == []


async def test_the_per_user_rate_answers_429_with_retry_after(
    livekit: LiveKitDouble, database_url: str, make_agent: AgentFactory
) -> None:
    settings = backend_settings(livekit, database_url, spawn_rate_per_minute=2)
    agent = await make_agent(ALICE)
    async with serving(create_app(settings, reconcile=False)) as client:
        path = f"/api/agents/{agent.id}/spawn"
        for _ in range(2):
            assert (await client.post(path, headers=as_user(ALICE))).status_code == 201
        limited = await client.post(path, headers=as_user(ALICE))
        assert limited.status_code == 429 and limited.json()["type"].endswith("rate-limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 30
        # The rate is per caller: Bob (spawning his own agent) is not held back by Alice.
        bobs = await make_agent(BOB)
        spawned = await client.post(f"/api/agents/{bobs.id}/spawn", headers=as_user(BOB))
        assert spawned.status_code == 201


async def test_at_max_total_agents_spawn_answers_429(
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    database_url: str,
    make_agent: AgentFactory,
) -> None:
    settings = backend_settings(livekit, database_url, max_total_agents=2)
    agent = await make_agent(ALICE)
    # A room another replica made counts too (LiveKit's room list is the census).
    await livekit_api.room.create_room(api.CreateRoomRequest(name=f"agent-{agent.id}-elsewhere1"))
    async with serving(create_app(settings, reconcile=False)) as client:
        path = f"/api/agents/{agent.id}/spawn"
        assert (await client.post(path, headers=OPERATOR)).status_code == 201
        full = await client.post(path, headers=OPERATOR)
        assert full.status_code == 429 and full.json()["type"].endswith("at-capacity")
        assert int(full.headers["retry-after"]) >= 1
        # Voxie sessions are not agent rooms: still open.
        assert (await client.post("/api/voxie/sessions", headers=as_user(ALICE))).status_code == 201
    assert len(await rooms_of(livekit_api)) == 3


async def test_livekit_outage_is_a_503_problem(
    client: httpx.AsyncClient, livekit: LiveKitDouble, make_agent: AgentFactory
) -> None:
    agent = await make_agent(ALICE)
    async with livekit.outage():
        for path, body in (
            (f"/api/agents/{agent.id}/spawn", None),
            ("/api/voxie/sessions", {"owner_id": str(ALICE)}),
        ):
            response = await client.post(path, json=body, headers=OPERATOR)
            assert response.status_code == 503, response.text
            assert response.json()["type"].endswith("livekit-unavailable")
            assert response.headers["retry-after"]
        assert (await client.get("/api/rooms", headers=OPERATOR)).status_code == 503
    assert (await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)).status_code == 201


async def test_store_outage_is_a_503_problem(livekit: LiveKitDouble) -> None:
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/voxie"
    settings = backend_settings(livekit, down)
    async with serving(create_app(settings, reconcile=False)) as client:
        for method, path in [
            ("GET", "/api/agents"),
            ("POST", f"/api/agents/{ALICE}/spawn"),
            ("GET", "/api/sessions"),
        ]:
            response = await client.request(method, path, headers=OPERATOR)
            assert response.status_code == 503, response.text
            assert response.json()["type"].endswith("store-unavailable")
            assert "password" not in response.text and "127.0.0.1" not in response.text


async def test_without_livekit_credentials_room_endpoints_say_so(
    database_url: str, make_agent: AgentFactory
) -> None:
    settings = backend_settings(None, database_url)
    agent = await make_agent(ALICE)
    async with serving(create_app(settings)) as client:
        assert (await client.get("/api/agents", headers=OPERATOR)).status_code == 200
        response = await client.post(f"/api/agents/{agent.id}/spawn", headers=OPERATOR)
        assert response.status_code == 503
        assert "LIVEKIT_API_KEY" in response.json()["detail"]


# --- Voxie sessions ---------------------------------------------------------------------------


async def one_dispatch(livekit_api: api.LiveKitAPI, room: str) -> tuple[str, DispatchMetadata]:
    [dispatch] = await livekit_api.agent_dispatch.list_dispatch(room)
    metadata = DispatchMetadata.parse(dispatch.metadata)
    assert metadata is not None
    return dispatch.agent_name, metadata


async def test_a_voxie_session_dispatches_voxie_once(
    client: httpx.AsyncClient, livekit: LiveKitDouble, livekit_api: api.LiveKitAPI
) -> None:
    response = await client.post("/api/voxie/sessions", headers=as_user(ALICE))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"room_name", "token", "livekit_url"}
    parsed = parse_room_name(body["room_name"])
    assert parsed is not None and parsed.kind == "creation"
    [room] = await rooms_of(livekit_api)
    assert room.name == body["room_name"] and room.metadata == ""
    agent_name, metadata = await one_dispatch(livekit_api, room.name)
    assert agent_name == VOXIE
    assert metadata == DispatchMetadata(
        agent_id=None, deployment="test", kind="creation", requested_by=f"user:{ALICE}"
    )
    assert (await livekit.join_with_token(body["token"])).identity == f"user:{ALICE}"


async def test_a_voxie_edit_session_names_the_callers_own_agent(
    client: httpx.AsyncClient, livekit_api: api.LiveKitAPI, make_agent: AgentFactory
) -> None:
    agent = await make_agent(ALICE, slug="clarence")
    response = await client.post(
        "/api/voxie/sessions", json={"agent_id": "clarence"}, headers=as_user(ALICE)
    )
    assert response.status_code == 201, response.text
    room = response.json()["room_name"]
    _, metadata = await one_dispatch(livekit_api, room)
    assert metadata.agent_id == agent.id and metadata.kind == "creation"
    [listed] = await rooms_of(livekit_api)
    assert RoomMetadata.parse(listed.metadata) == RoomMetadata(agent_id=agent.id)

    # Someone else's agent, a bad body, an archived agent: refused, and no room made.
    theirs = await client.post(
        "/api/voxie/sessions", json={"agent_id": str(agent.id)}, headers=as_user(BOB)
    )
    assert theirs.status_code == 404
    for body in ({"agent_id": 5}, {"agent": "x"}, ["x"]):
        bad = await client.post("/api/voxie/sessions", json=body, headers=as_user(ALICE))
        assert bad.status_code == 422, body
    await client.delete(f"/api/agents/{agent.id}", headers=as_user(ALICE))
    archived = await client.post(
        "/api/voxie/sessions", json={"agent_id": str(agent.id)}, headers=as_user(ALICE)
    )
    assert archived.status_code == 409
    assert len(await rooms_of(livekit_api)) == 1


async def test_voxie_sessions_always_name_the_user_who_will_own_the_agent(
    client: httpx.AsyncClient,
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    make_agent: AgentFactory,
) -> None:
    async def requested_by(body: dict[str, str] | None, headers: dict[str, str]) -> str:
        response = await client.post("/api/voxie/sessions", json=body, headers=headers)
        assert response.status_code == 201, response.text
        grant = response.json()
        joined = await livekit.join_with_token(grant["token"])
        assert joined.identity == ("operator" if headers == OPERATOR else f"user:{ALICE}")
        _, metadata = await one_dispatch(livekit_api, grant["room_name"])
        return metadata.requested_by

    # Voxie makes agents for users only: the operator's session is for the user it names.
    assert await requested_by({"owner_id": str(BOB)}, OPERATOR) == f"user:{BOB}"
    alices = await make_agent(ALICE, slug="clarence")
    assert await requested_by({"agent_id": str(alices.id)}, OPERATOR) == f"user:{ALICE}"
    assert await requested_by({"agent_id": "clarence"}, as_user(ALICE)) == f"user:{ALICE}"
    for_bob = await client.post(
        "/api/voxie/sessions", json={"owner_id": str(BOB)}, headers=as_user(ALICE)
    )
    assert for_bob.status_code == 403

    # The operator token is no user: a session for nobody, or for the operator's own nil owner
    # id, or to edit an agent the operator owns, is refused before any room is made.
    operators = await make_agent(OPERATOR_OWNER_ID, slug="house-agent")
    rooms_before = len(await rooms_of(livekit_api))
    for body in (None, {}, {"owner_id": str(OPERATOR_OWNER_ID)}, {"agent_id": str(operators.id)}):
        refused = await client.post("/api/voxie/sessions", json=body, headers=OPERATOR)
        assert refused.status_code == 403, (body, refused.text)
        assert refused.json()["type"].endswith("owner-required"), refused.text
        assert "users" in refused.json()["detail"]
    assert len(await rooms_of(livekit_api)) == rooms_before

    # A test call names its caller, the operator as "operator".
    spawned = await client.post(f"/api/agents/{alices.id}/spawn", headers=OPERATOR)
    _, metadata = await one_dispatch(livekit_api, spawned.json()["room_name"])
    assert metadata.requested_by == "operator"


async def test_a_token_for_another_room_is_refused_by_livekit(
    client: httpx.AsyncClient, livekit: LiveKitDouble
) -> None:
    response = await client.post("/api/voxie/sessions", headers=as_user(ALICE))
    token = response.json()["token"]
    # Tamper: the same claims for another room no longer verify.
    header, _, signature = token.split(".")
    claims = json.loads(_payload(token))
    claims["video"]["room"] = "voxie-creation-someoneelse"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(JoinRefused):
        await livekit.join_with_token(f"{header}.{forged_payload}.{signature}")


def test_the_join_token_carries_exactly_livekits_own_claims(settings: Settings) -> None:
    from backend.admission import join_token

    ours = api.TokenVerifier(
        settings.livekit_api_key, settings.livekit_api_secret.get_secret_value()
    )
    theirs = (
        api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret.get_secret_value())
        .with_identity("user:x")
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room="r",
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
            )
        )
        .to_jwt()
    )
    minted = join_token(settings, "user:x", "r")
    decoded = [json.loads(_payload(token)) for token in (minted, theirs)]
    for claims in decoded:
        claims.pop("nbf"), claims.pop("exp")
    assert decoded[0] == decoded[1]
    assert ours.verify(minted).video == ours.verify(theirs).video


# --- a LiveKit that accepts and never answers --------------------------------------------------


@pytest.mark.timeout(90)
async def test_a_livekit_that_never_answers_is_a_503_and_spawns_work_once_it_is_back(
    database_url: str, make_agent: AgentFactory, livekit: LiveKitDouble
) -> None:
    agent = await make_agent(ALICE)
    spawn = f"/api/agents/{agent.id}/spawn"
    async with BlackHole() as hole:
        settings = backend_settings(
            None,
            database_url,
            livekit_url=hole.url,
            livekit_api_key=livekit.api_key,
            livekit_api_secret=livekit.api_secret,
            livekit_api_timeout_s=1,
        )
        async with serving(create_app(settings, reconcile=False)) as client:
            began = time.monotonic()
            # Several at once: the census read they share must not hold the rest behind it.
            answers = await asyncio.gather(
                *(client.post(spawn, headers=OPERATOR) for _ in range(4)),
                client.post("/api/voxie/sessions", json={"owner_id": str(ALICE)}, headers=OPERATOR),
                client.get("/api/rooms", headers=OPERATOR),
                client.post("/api/gc", headers=OPERATOR),  # a reconciler pass
            )
            elapsed = time.monotonic() - began
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert answer.json()["type"].endswith("livekit-unavailable")
                assert int(answer.headers["retry-after"]) >= 1
            assert hole.accepted >= 1
            print(f"seven requests against a LiveKit that never answers: 503 in {elapsed:.2f} s")

            # LiveKit comes back on the same address: the very next spawn goes through.
            port = hole.port
            await hole.close()
            with LiveKitDouble(
                port=port, api_key=livekit.api_key, api_secret=livekit.api_secret
            ) as back:
                spawned = await client.post(spawn, headers=OPERATOR)
                assert spawned.status_code == 201, spawned.text
                async with back.api() as back_api:
                    assert [r.name for r in await rooms_of(back_api)] == [
                        spawned.json()["room_name"]
                    ]
