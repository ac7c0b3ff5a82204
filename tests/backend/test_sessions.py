"""Call sessions over HTTP: lists filtered by agent and owner, one session with its records."""

from __future__ import annotations

from uuid import uuid4

import httpx

from shared.contracts import EndReason, NewCallSession, TokenUsage
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
    open_one = (await client.get(f"/api/sessions/{sessions[2].id}", headers=alice)).json()
    assert open_one["transcript"] == [] and open_one["summary"] is None

    assert (await client.get(f"/api/sessions/{sessions[3].id}", headers=alice)).status_code == 404
    assert (await client.get(f"/api/sessions/{uuid4()}", headers=OPERATOR)).status_code == 404
    assert (await client.get("/api/sessions/not-a-uuid", headers=OPERATOR)).status_code == 400
    assert (await client.get("/api/sessions?agent_id=x", headers=OPERATOR)).status_code == 400
    assert (await client.get("/api/sessions?limit=201", headers=OPERATOR)).status_code == 400
