"""The process runtime: one store on its own loop, used from every job's loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from uuid import uuid4

import pytest

from shared.contracts import NewCallSession, SessionKind
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store import AgentStore, StoreUnavailable
from tests.conftest import make_settings


def new_call() -> NewCallSession:
    return NewCallSession(
        id=uuid4(),
        agent_id=None,
        room_name=f"voxie-creation-{uuid4().hex[:12]}",
        kind=SessionKind.CREATION,
        deployment="test",
    )


async def test_jobs_on_their_own_loops_share_the_runtimes_store(
    database_url: str, tmp_path: Path
) -> None:
    runtime = await asyncio.to_thread(
        Runtime(make_settings(database_url=database_url, spool_dir=tmp_path)).start
    )
    try:

        def job() -> str:
            # A job of the thread executor: a thread with its own event loop.
            async def run() -> str:
                store = runtime.job_store()
                started = await store.start_session(new_call())
                await store.close()  # not the job's to close
                return (await store.get_session(started.id)).room_name

            return asyncio.run(run())

        rooms = await asyncio.gather(*(asyncio.to_thread(job) for _ in range(3)))
        assert len(set(rooms)) == 3
        await runtime.call(runtime.store.ping())  # still open after the jobs "closed" it
    finally:
        await asyncio.to_thread(runtime.close)


async def test_a_store_that_will_not_open_leaves_no_thread_behind(tmp_path: Path) -> None:
    async def refuse(settings: Settings) -> AgentStore:
        raise StoreUnavailable("cannot open the database pool: OSError")

    runtime = Runtime(make_settings(spool_dir=tmp_path), open_store=refuse)
    with pytest.raises(StoreUnavailable):
        await asyncio.to_thread(runtime.start)
    assert "store-runtime" not in {thread.name for thread in threading.enumerate()}
