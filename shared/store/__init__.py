"""The system of record: `open_store(settings)` picks the AgentStore the settings select."""

from __future__ import annotations

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
    """Supabase REST, or Postgres on DATABASE_URL. Without either this raises StoreUnavailable:
    the local embedded database is the launcher's (`voxiectl.local_db`), which gives the
    processes it starts its DATABASE_URL."""
    kind = settings.store_kind
    if kind is StoreKind.SUPABASE:
        from shared.store.supabase import SupabaseStore

        assert settings.supabase_url and settings.supabase_service_role_key
        return await SupabaseStore.connect(
            settings.supabase_url,
            settings.supabase_service_role_key.get_secret_value(),
            timeout_s=settings.store_timeout_s,
        )
    if settings.database_url is None:
        raise StoreUnavailable(
            "no database is configured: set DATABASE_URL or SUPABASE_URL (scripts/start runs a "
            "local database and gives the processes it starts its DATABASE_URL)"
        )

    from shared.store.postgres import PostgresStore

    return await PostgresStore.connect(
        settings.database_url.get_secret_value(),
        max_size=settings.db_pool_max_size,
        timeout_s=settings.store_timeout_s,
    )
