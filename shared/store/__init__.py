"""The system of record: `open_store(settings)` picks the AgentStore the settings select."""

from __future__ import annotations

import asyncio

from shared.settings import Settings, StoreKind
from shared.store.base import AgentStore, CallStats, Page
from shared.store.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    StoreError,
    StoreUnavailable,
    UnreadableAgent,
)

__all__ = [
    "AgentStore",
    "CallStats",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "Page",
    "StoreError",
    "StoreUnavailable",
    "UnreadableAgent",
    "open_store",
]


async def open_store(settings: Settings) -> AgentStore:
    """Supabase REST, Postgres on DATABASE_URL, or (dev/test) the local embedded Postgres."""
    kind = settings.store_kind
    if kind is StoreKind.SUPABASE:
        from shared.store.supabase import SupabaseStore

        assert settings.supabase_url and settings.supabase_service_role_key
        return await SupabaseStore.connect(
            settings.supabase_url,
            settings.supabase_service_role_key.get_secret_value(),
            timeout_s=settings.store_timeout_s,
        )

    from shared.store.postgres import PostgresStore

    if kind is StoreKind.POSTGRES:
        assert settings.database_url is not None
        dsn = settings.database_url.get_secret_value()
    else:
        from shared.db.local import LocalPostgres, ensure_database

        # Attaches to the server `python -m shared.db up` started, or starts it.
        server_dsn = await asyncio.to_thread(LocalPostgres(settings.local_db_dir).start)
        dsn = await ensure_database(server_dsn)
    return await PostgresStore.connect(
        dsn, max_size=settings.db_pool_max_size, timeout_s=settings.store_timeout_s
    )
