"""Fixtures for the LiveKit double's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.support.livekit import LiveKitDouble
from tests.support.livekit.raw_worker import RawWorker

Connect = Callable[..., Awaitable[RawWorker]]


@pytest.fixture
async def connect(livekit: LiveKitDouble) -> AsyncIterator[Connect]:
    """Registers scripted workers on the test's double; all are closed afterwards."""
    workers: list[RawWorker] = []

    async def make(agent_name: str = "", **kwargs: object) -> RawWorker:
        worker = await RawWorker.connect(livekit, agent_name, **kwargs)  # type: ignore[arg-type]
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        await worker.close()
