"""Nothing lost: a call's records survive a store outage and a worker restart.

The database sits behind a TCP proxy the test cuts. While it is down, one call ends (a real
text-mode session, recorded by the spawner's own end-of-call path) and a real spawner process
gets a job it cannot load. Then that worker dies, the database comes back, and a new worker on
the same spool directory writes everything at its start.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest
from livekit import api
from livekit.agents.voice.run_result import RunResult

from shared.contracts import EndReason, NewCallSession, SessionKind
from shared.recording import SessionRecorder, call_end
from shared.store.postgres import PostgresStore
from spawner import factory
from spawner.call import tool_context
from spawner.summary import summarize
from tests.conftest import make_settings
from tests.spawner.conftest import (
    SpawnerProcess,
    create_agent_room,
    ended,
    new_agent,
    spawner_error,
)
from tests.support.livekit import LiveKitDouble
from tests.support.scripted_llm import MODEL, Reply, ScriptedLLM, ToolCall
from tests.support.tcp_proxy import TcpProxy, target_of, via

pytestmark = pytest.mark.timeout(180)

NAME = "spawner-test"


async def test_a_calls_records_survive_a_store_outage_and_a_worker_restart(
    livekit: LiveKitDouble,
    livekit_api: api.LiveKitAPI,
    database_url: str,
    store: PostgresStore,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    agent = await store.create_agent(new_agent(summarize=True))
    spool = tmp_path / "spool"
    async with TcpProxy(target_of(database_url)) as proxy:
        proxied = via(database_url, proxy)
        env = {"SPOOL_DIR": str(spool)}
        before = SpawnerProcess(livekit, tmp_path, label="before", database_url=proxied, env=env)
        restarted: SpawnerProcess | None = None
        down_store = await PostgresStore.connect(proxied, attempts=2, timeout_s=3)
        try:
            await livekit.wait_for_workers(1, NAME, within=60)
            proxy.cut()

            # A call ends during the outage.
            recorder = SessionRecorder(down_store, spool)
            new = NewCallSession(
                agent_id=agent.id,
                owner_id=agent.owner_id,
                room_name=f"agent-{agent.id}-recordedcall",
                kind=SessionKind.TEST,
                deployment="test",
            )
            session_id = await recorder.start(new)
            settings = make_settings(openai_api_key="sk-test")
            model = ScriptedLLM(
                ["Let me check that.", Reply(text="Bye now!", calls=[ToolCall("end_call")])]
            )
            async with httpx.AsyncClient() as client:
                ended_call: list[bool] = []
                built = factory.build_agent(
                    agent,
                    tool_context(settings, down_store, agent.owner_id, client),
                    on_end_call=lambda: ended_call.append(True),
                )
                session = factory.build_session(agent, settings, models=factory.Models(model))
                async with session:
                    await session.start(built, capture_run=True)
                    await session.run(user_input="Is Friday free?")
                    result: RunResult[None] = await session.run(user_input="Thanks, bye")
                    result.expect.contains_function_call(name="end_call")
                    summarizer = ScriptedLLM(["The caller asked about Friday and hung up."])
                    summary = await summarize(summarizer, session.history)
                    end = call_end(session_id, EndReason.END_CALL, session, summary=summary)
            assert ended_call == [True]
            assert await recorder.finish(end) is False  # spooled, not lost

            # A job arrives during the outage: its config cannot load.
            room = await create_agent_room(livekit_api, NAME, agent.id)
            message = await spawner_error(livekit, room)
            assert message["code"] == "store_unavailable"
            await ended(livekit, room)
            await livekit.wait_for(
                lambda: len(list(spool.glob("*.json"))) == 2, what="two spooled sessions"
            )

            # The worker dies with the records on disk; the store comes back; a new one starts.
            before.kill()
            proxy.restore()
            restarted = SpawnerProcess(
                livekit, tmp_path, label="after", database_url=proxied, env=env
            )

            async def replayed() -> bool:
                return not list(spool.glob("*.json"))

            await livekit.wait_for(replayed, within=60, what="the restarted worker's replay")
        finally:
            before.stop()
            if restarted is not None:
                restarted.stop()
            await down_store.close()

    call = await db.fetchrow("select * from call_sessions where id = $1", session_id)
    assert call is not None
    assert (call["status"], call["end_reason"], call["agent_id"]) == ("ended", "end_call", agent.id)
    transcript = await db.fetchrow(
        "select items, summary from call_transcripts where session_id = $1", session_id
    )
    assert transcript is not None
    assert transcript["summary"] == "The caller asked about Friday and hung up."
    assert "Is Friday free?" in transcript["items"] and "Bye now!" in transcript["items"]
    usage = await db.fetch("select * from token_usage where session_id = $1", session_id)
    assert [u["model"] for u in usage] == [MODEL] and usage[0]["input_tokens"] > 0

    failed = await db.fetchrow("select * from call_sessions where room_name = $1", room)
    assert failed is not None
    assert (failed["status"], failed["end_reason"]) == ("failed", "error")
    assert failed["error"].startswith("store_unavailable")
    assert list((spool / "dead").glob("*")) == []
