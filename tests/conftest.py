"""Session fixtures: one real PostgreSQL server and one migrated database for the whole run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from livekit import api

from shared.db.migrations import apply_migrations
from shared.logging import configure_logging
from shared.runtime import Runtime
from shared.settings import Settings
from shared.store.postgres import PostgresStore
from tests.support.livekit import LiveKitDouble
from tests.support.openai import OpenAIDouble
from tests.support.postgres import create_database, postgres_server
from tests.support.tcp_proxy import TcpProxy, target_of

# Hermetic: the machine's own platform variables (a developer's shell, a CI runner) must not
# leak into settings the tests build; subprocesses the tests start inherit the clean env too.
for _name in Settings.model_fields:
    os.environ.pop(_name.upper(), None)

configure_logging("warning", "console")


def make_settings(**values: object) -> Settings:
    """Settings from explicit values only: no `.env` file, and (see above) no ambient variables."""
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Superuser DSN of a real PostgreSQL server for the whole session."""
    with postgres_server() as dsn:
        yield dsn


@pytest.fixture(scope="session")
async def database_url(pg_server: str) -> str:
    """A fresh database with every migration applied."""
    dsn = await create_database(pg_server)
    await apply_migrations(dsn)
    return dsn


@pytest.fixture(scope="session")
async def store(database_url: str) -> AsyncIterator[PostgresStore]:
    """A PostgresStore on the session's database."""
    opened = await PostgresStore.connect(database_url)
    yield opened
    await opened.close()


@pytest.fixture(scope="module")
async def runtime(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Runtime]:
    """A worker process's runtime (store and recorder on their own loop) on the session's
    database, as `Runtime.shared` opens it in a worker; closed with its module (its thread is
    gone before tests/shared/test_runtime.py looks for leftovers)."""
    spool = tmp_path_factory.mktemp("runtime-spool")
    started = await asyncio.to_thread(
        Runtime(make_settings(database_url=database_url, spool_dir=spool)).start
    )
    yield started
    await asyncio.to_thread(started.close)


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the session's database, for tests that cut the store's network."""
    async with TcpProxy(target_of(database_url)) as running:
        yield running


@pytest.fixture
def livekit() -> Iterator[LiveKitDouble]:
    """A fresh LiveKit server double on 127.0.0.1 for one test (seeded: load-weighted picks
    repeat from run to run)."""
    with LiveKitDouble(seed=7) as double:
        yield double


@pytest.fixture
async def livekit_api(livekit: LiveKitDouble) -> AsyncIterator[api.LiveKitAPI]:
    """The real livekit-api client, pointed at the double."""
    async with livekit.api() as client:
        yield client


@pytest.fixture
def openai_double() -> Iterator[OpenAIDouble]:
    """A fresh OpenAI double (realtime websocket and REST) on 127.0.0.1 for one test; point
    `base_url` (or OPENAI_BASE_URL) at `openai_double.base_url`."""
    with OpenAIDouble() as double:
        yield double
