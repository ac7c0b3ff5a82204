"""Call sessions over HTTP: lists filtered by agent, kind and owner, one session with its
records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
from starlette.applications import Starlette

from shared.contracts import CallTurn, EndReason, NewCallSession, SessionKind, TokenUsage
from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, BOB, OPERATOR, AgentFactory, as_user


async def test_sessions_are_listed_by_agent_and_shown_with_their_records(
    client: httpx.AsyncClient, store: PostgresStore, make_agent: AgentFactory
) -> None:
    first, second = await make_agent(ALICE), await make_agent(ALICE)
    bobs = await make_agent(BOB)
    sessions = []
    for agent in (first, first, second, bobs):
        sessions.append(
            await store.start_session(
                NewCallSession(
                    agent_id=agent.id,
                    owner_id=agent.owner_id,
                    room_name=f"agent-{agent.id}-{uuid4().hex[:10]}",
                    kind="test",
                    deployment="test",
                )
            )
        )
    done = sessions[0]
    await store.write_transcript(done.id, [{"role": "user", "content": ["hi"]}], "A greeting.")
    await store.write_usage(done.id, [TokenUsage(model="gpt-realtime", input_tokens=12)])
    spoken = datetime(2026, 11, 21, 9, 0, 14, 210_000, tzinfo=UTC)
    await store.write_turns(
        done.id,
        [
            CallTurn(turn=1, item_id="item_hello", spoken_at=spoken, model_ttfa_s=0.3),
            CallTurn(turn=2, spoken_at=spoken, latency_s=0.742, model_ttfa_s=0.388),
        ],
    )
    await store.finish_session(done.id, end_reason=EndReason.GRACE_EXPIRED)

    alice = as_user(ALICE)
    assert (await client.get("/api/sessions", headers=alice)).json()["total"] == 3
    assert (await client.get("/api/sessions", headers=OPERATOR)).json()["total"] == 4
    by_agent = await client.get(f"/api/sessions?agent_id={first.id}&limit=1", headers=alice)
    assert by_agent.json()["total"] == 2 and len(by_agent.json()["items"]) == 1
    theirs = await client.get(f"/api/sessions?agent_id={bobs.id}", headers=alice)
    assert theirs.json()["total"] == 0

    shown = (await client.get(f"/api/sessions/{done.id}", headers=alice)).json()
    assert shown["session"]["end_reason"] == "grace_expired"
    assert shown["summary"] == "A greeting." and len(shown["transcript"]) == 1
    assert shown["usage"][0]["input_tokens"] == 12
    assert shown["turns"] == [
        {
            "turn": 1,
            "item_id": "item_hello",
            "spoken_at": "2026-11-21T09:00:14.210000Z",
            "latency_s": None,
            "model_ttfa_s": 0.3,
            "interrupted": False,
        },
        {
            "turn": 2,
            "item_id": None,
            "spoken_at": "2026-11-21T09:00:14.210000Z",
            "latency_s": 0.742,
            "model_ttfa_s": 0.388,
            "interrupted": False,
        },
    ]
    open_one = (await client.get(f"/api/sessions/{sessions[2].id}", headers=alice)).json()
    assert open_one["transcript"] == [] and open_one["summary"] is None
    assert open_one["turns"] == []

    assert (await client.get(f"/api/sessions/{sessions[3].id}", headers=alice)).status_code == 404
    assert (await client.get(f"/api/sessions/{uuid4()}", headers=OPERATOR)).status_code == 404
    assert (await client.get("/api/sessions/not-a-uuid", headers=OPERATOR)).status_code == 400
    assert (await client.get("/api/sessions?agent_id=x", headers=OPERATOR)).status_code == 400
    assert (await client.get("/api/sessions?limit=201", headers=OPERATOR)).status_code == 400


async def test_sessions_are_filtered_by_kind_within_the_callers_own(
    client: httpx.AsyncClient, store: PostgresStore, make_agent: AgentFactory
) -> None:
    alices, bobs = await make_agent(ALICE), await make_agent(BOB)

    async def started(agent_id: UUID | None, owner: UUID, kind: SessionKind) -> str:
        room = f"agent-{agent_id}-{uuid4().hex[:10]}" if agent_id else "voxie-creation-abcdefgh"
        session = await store.start_session(
            NewCallSession(
                agent_id=agent_id, owner_id=owner, room_name=room, kind=kind, deployment="test"
            )
        )
        return str(session.id)

    alice_test = await started(alices.id, ALICE, SessionKind.TEST)
    alice_lives = [await started(alices.id, ALICE, SessionKind.LIVE) for _ in range(3)]
    alice_voxie = await started(None, ALICE, SessionKind.CREATION)
    bob_test = await started(bobs.id, BOB, SessionKind.TEST)

    async def listed(params: str, headers: dict[str, str]) -> tuple[list[str], int]:
        answer = await client.get(f"/api/sessions?{params}", headers=headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return [s["id"] for s in body["items"]], body["total"]

    alice = as_user(ALICE)
    # Owner scoping holds with a kind: Alice's test calls are hers only, Bob's are not counted.
    assert await listed("kind=test", alice) == ([alice_test], 1)
    assert await listed("kind=test", OPERATOR) == ([bob_test, alice_test], 2)
    assert await listed(f"kind=test&agent_id={bobs.id}", alice) == ([], 0)
    assert await listed("kind=creation", alice) == ([alice_voxie], 1)
    assert await listed("kind=creation", as_user(BOB)) == ([], 0)
    # Paged past the first page, the total still counts every live call (not the page).
    newest_first = alice_lives[::-1]
    assert await listed(f"kind=live&agent_id={alices.id}&limit=2", alice) == (newest_first[:2], 3)
    assert await listed("kind=live&limit=2&offset=2", alice) == (newest_first[2:], 3)


async def test_an_unknown_kind_is_a_problem_naming_the_parameter(
    client: httpx.AsyncClient,
) -> None:
    for kind in ("bogus", "TEST", ""):
        answer = await client.get(f"/api/sessions?kind={kind}", headers=OPERATOR)
        assert answer.status_code == 400, (kind, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["type"] == "urn:voxie:problem:invalid-parameter"
        assert "query parameter kind" in problem["detail"], problem
        assert "'creation', 'test' or 'live'" in problem["detail"], problem


def test_the_kind_parameter_is_documented(app: Starlette) -> None:
    listing = app.state.openapi["paths"]["/api/sessions"]["get"]
    kind = next(p for p in listing["parameters"] if p["name"] == "kind")
    assert kind["in"] == "query" and not kind.get("required", False)
    assert kind["schema"] == {"enum": ["creation", "test", "live"], "type": "string"}
    assert kind["description"]


async def test_each_session_names_its_agent_past_the_first_200_and_only_the_callers_own(
    client: httpx.AsyncClient, store: PostgresStore, make_agent: AgentFactory
) -> None:
    # The oldest of 201 agents: not on the first page of 200 the Agents list gives.
    oldest = await make_agent(ALICE, name="The Oldest")
    for _ in range(200):
        await make_agent(ALICE)
    deleted = await make_agent(ALICE, name="Gone Soon")
    bobs = await make_agent(BOB, name="Bob's Secret")
    alice = as_user(ALICE)
    first_200 = (await client.get("/api/agents?limit=200", headers=alice)).json()["items"]
    assert str(oldest.id) not in {a["id"] for a in first_200}

    async def started(agent_id: UUID | None, kind: SessionKind = SessionKind.TEST) -> str:
        room = f"agent-{agent_id}-{uuid4().hex[:10]}" if agent_id else "voxie-creation-abcdefgh"
        session = await store.start_session(
            NewCallSession(
                agent_id=agent_id, owner_id=ALICE, room_name=room, kind=kind, deployment="test"
            )
        )
        return str(session.id)

    of_oldest = await started(oldest.id)
    of_deleted = await started(deleted.id)
    voxie = await started(None, SessionKind.CREATION)
    # A row whose owner is Alice but whose agent is Bob's (bad data, or a hand-written row):
    # it is listed for Alice, the name of Bob's agent is not.
    of_bobs = await started(bobs.id)
    await store.delete_agent(deleted.id)

    listed = (await client.get("/api/sessions", headers=alice)).json()["items"]
    names = {s["id"]: s["agent_name"] for s in listed}
    assert names == {of_oldest: "The Oldest", of_deleted: None, voxie: None, of_bobs: None}
    everyone = (await client.get("/api/sessions", headers=OPERATOR)).json()["items"]
    assert {s["id"]: s["agent_name"] for s in everyone}[of_bobs] == "Bob's Secret"

    shown = (await client.get(f"/api/sessions/{of_oldest}", headers=alice)).json()
    assert shown["session"]["agent_name"] == "The Oldest"
    foreign = (await client.get(f"/api/sessions/{of_bobs}", headers=alice)).json()
    assert foreign["session"]["agent_name"] is None
