"""Session fixtures: one real PostgreSQL server and one migrated database for the whole run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.db.migrations import apply_migrations
from shared.logging import configure_logging
from shared.settings import Settings
from tests.support.postgres import create_database, postgres_server

configure_logging("warning", "console")


def make_settings(**values: object) -> Settings:
    """Settings from explicit values only: no `.env`, no ambient environment surprises."""
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
