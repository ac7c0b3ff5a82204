"""`open_store(settings)` gives the store the settings select, working against a real database."""

from __future__ import annotations

import pytest

from shared.store import open_store
from shared.store.postgres import PostgresStore
from shared.store.supabase import SupabaseStore
from tests.conftest import make_settings
from tests.support.postgrest import PostgrestDouble


async def test_database_url_selects_the_postgres_store(database_url: str) -> None:
    store = await open_store(make_settings(database_url=database_url))
    try:
        assert isinstance(store, PostgresStore)
        await store.ping()
    finally:
        await store.close()


async def test_supabase_settings_select_the_rest_store(
    postgrest: PostgrestDouble, service_role_key: str
) -> None:
    store = await open_store(
        make_settings(supabase_url=postgrest.url, supabase_service_role_key=service_role_key)
    )
    try:
        assert isinstance(store, SupabaseStore)
        await store.ping()
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com"])
async def test_a_malformed_supabase_url_is_a_clear_error(url: str, service_role_key: str) -> None:
    from shared.store import InvalidInput

    with pytest.raises(InvalidInput, match="cannot create the Supabase client"):
        await open_store(
            make_settings(supabase_url=url, supabase_service_role_key=service_role_key)
        )
