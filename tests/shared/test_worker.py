"""The worker plumbing both workers share: the AgentServer from Settings, and the spool replayer
that writes what a store outage left behind once the store is back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import asyncpg
import pytest
from livekit.agents import AgentServer, JobExecutorType, JobProcess

from shared.contracts import CallSession, EndReason, NewCallSession, SessionKind
from shared.recording import CallEnd, SessionRecorder
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store import AgentStore, StoreUnavailable, open_store
from shared.store.postgres import PostgresStore
from shared.worker import agent_server, session_load, start_spool_replayer
from tests.conftest import make_settings
from tests.support.tcp_proxy import TcpProxy, via


class RefusalsCounted:
    """The runtime's real store, counting the session starts it refused for an outage."""

    def __init__(self, store: AgentStore) -> None:
        self._store = store
        self.starts_refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def start_session(self, new: NewCallSession) -> CallSession:
        try:
            return await self._store.start_session(new)
        except StoreUnavailable:
            self.starts_refused += 1
            raise


def load(server: AgentServer) -> float:
    return 0.25


def setup(proc: JobProcess) -> None:
    pass


def test_the_server_is_built_from_the_settings() -> None:
    settings = make_settings(
        worker_executor="thread",
        worker_idle_processes=3,
        worker_load_threshold=0.6,
        worker_drain_timeout_s=42,
        worker_http_port=0,
        worker_prometheus_port=9465,
        livekit_url="ws://livekit.test:7880",
        livekit_api_key="APIkey",
        livekit_api_secret="secret-value",
    )
    server = agent_server(settings, load_fnc=load, setup_fnc=setup)
    assert server._job_executor_type is JobExecutorType.THREAD
    assert server._num_idle_processes == 3
    assert server._load_threshold == 0.6
    assert server._drain_timeout == 42
    assert (server._port, server._prometheus_port) == (0, 9465)
    assert server._ws_url == "ws://livekit.test:7880"
    assert (server._api_key, server._api_secret) == ("APIkey", "secret-value")
    assert server._load_fnc is load and server._setup_fnc is setup


def test_a_replica_is_full_at_exactly_its_maximum_sessions() -> None:
    settings = make_settings(worker_max_sessions=16, worker_load_threshold=0.7)
    # LiveKit offers a worker jobs while its load is below the threshold: 15 calls, not 16.
    assert session_load(15, settings) < 0.7
    assert session_load(16, settings) == 0.7
    assert session_load(40, settings) == 0.7
    assert session_load(0, settings) == 0.0
    assert session_load(8, settings) == 0.35


async def test_the_replayer_writes_what_an_outage_spooled_once_the_store_is_back(
    database_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    proxied = via(database_url, proxy)
    down = await PostgresStore.connect(proxied, attempts=1, timeout_s=3)
    recorder = SessionRecorder(down, tmp_path)
    proxy.cut()
    try:
        session_id = await recorder.start(
            NewCallSession(
                agent_id=None,
                room_name=f"voxie-creation-{uuid4().hex[:12]}",
                kind=SessionKind.CREATION,
                deployment="test",
            )
        )
        await recorder.finish(CallEnd(session_id=session_id, end_reason=EndReason.USER_HANGUP))
    finally:
        await down.close()
    assert recorder.pending == 1

    # The worker starts while the store is still down: its replayer keeps trying.
    settings = make_settings(database_url=proxied, spool_dir=tmp_path)
    watched: list[RefusalsCounted] = []

    async def open_watched(settings: Settings) -> AgentStore:
        watched.append(RefusalsCounted(await open_store(settings)))
        return cast("AgentStore", watched[0])

    runtime = await asyncio.to_thread(Runtime(settings, open_store=open_watched).start)
    replayer = start_spool_replayer(settings, interval_s=0.05, runtime=runtime)
    try:
        # Each pass tries the spooled start first: a second refusal is a second pass, so the
        # replayer outlived a failed one, and the record is still owed.
        for _ in range(6000):
            if watched[0].starts_refused >= 2:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail(f"the replayer tried the down store {watched[0].starts_refused} time(s)")
        assert recorder.pending == 1 and not replayer.done()
        proxy.restore()
        async with asyncio.timeout(60):
            while recorder.pending:  # noqa: ASYNC110 - the spool is files: nothing to await
                await asyncio.sleep(0.05)
    finally:
        replayer.cancel()
        await asyncio.to_thread(runtime.close)
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "select status, end_reason from call_sessions where id = $1", session_id
        )
    finally:
        await conn.close()
    assert row is not None and (row["status"], row["end_reason"]) == ("ended", "user_hangup")
