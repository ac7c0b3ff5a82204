"""The PostgREST double, driven only through the real supabase-py async client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import asyncpg
import pytest
from postgrest import APIError, APIResponse, AsyncSelectRequestBuilder, CountMethod, ReturnMethod
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from tests.support.postgres import create_database, postgres_server
from tests.support.postgrest import PostgrestDouble, make_jwt

SECRET = "postgrest-double-test-secret-at-least-32-bytes"
OWNER_A = "00000000-0000-4000-8000-00000000000a"
OWNER_B = "00000000-0000-4000-8000-00000000000b"
EXACT, MINIMAL = CountMethod.exact, ReturnMethod.minimal

SCHEMA = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN BYPASSRLS;
  END IF;
END $$;
CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT nullif(coalesce(current_setting('request.jwt.claim.sub', true),
                         (current_setting('request.jwt.claims', true)::jsonb ->> 'sub')), '')::uuid
$$;
CREATE TABLE owners (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE notes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner uuid NOT NULL REFERENCES owners (id),
  title text NOT NULL,
  slug text UNIQUE,
  label text DEFAULT 'untitled',
  position int NOT NULL DEFAULT 0 CHECK (position >= 0),
  meta jsonb NOT NULL DEFAULT '{{}}',
  due_at timestamptz,
  done boolean NOT NULL DEFAULT false
);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_owner ON notes USING (owner = auth.uid()) WITH CHECK (owner = auth.uid());
CREATE FUNCTION count_notes(owner_id uuid) RETURNS bigint LANGUAGE sql STABLE
  AS $$ SELECT count(*) FROM notes WHERE owner = owner_id $$;
CREATE FUNCTION notes_from(min_position int) RETURNS SETOF notes LANGUAGE sql STABLE
  AS $$ SELECT * FROM notes WHERE position >= min_position $$;
CREATE FUNCTION fail(reason text) RETURNS void LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION '%', reason; END $$;
GRANT USAGE ON SCHEMA public, auth TO anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated, service_role;
INSERT INTO owners VALUES ('{OWNER_A}', 'A'), ('{OWNER_B}', 'B');
"""

# Owned by A and never modified: the read tests select exactly these three rows.
SEED = [
    {"title": "alpha", "slug": "alpha", "position": 1, "meta": {"tag": "x"}, "done": True},
    {"title": "Beta", "slug": "beta", "position": 2, "due_at": "2030-01-01T00:00:00Z"},
    {"title": "gamma, delta", "slug": "gamma", "position": 3, "label": None},
]
SEED_SLUGS = ["alpha", "beta", "gamma"]

Query = Callable[[Any], Any]


@pytest.fixture(scope="module")
async def double() -> AsyncIterator[PostgrestDouble]:
    with postgres_server() as server_dsn:
        dsn = await create_database(server_dsn)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(SCHEMA)
        finally:
            await conn.close()
        with PostgrestDouble(dsn, SECRET) as running:
            yield running


async def connect(double: PostgrestDouble, token: str) -> AsyncClient:
    """A client whose requests carry `token`, as supabase-py does for a signed-in user."""
    options = AsyncClientOptions(headers={"Authorization": f"Bearer {token}"})
    return await acreate_client(double.url, make_jwt(SECRET, role="anon"), options)


@pytest.fixture(scope="module")
async def service(double: PostgrestDouble) -> AsyncIterator[AsyncClient]:
    client = await connect(double, make_jwt(SECRET, role="service_role"))
    seed = [{**row, "owner": OWNER_A} for row in SEED]
    await client.table("notes").insert(seed, default_to_null=False).execute()
    yield client
    await client.postgrest.aclose()


def seeded(client: AsyncClient, *columns: str) -> AsyncSelectRequestBuilder:
    return client.table("notes").select(*(columns or ("title",))).in_("slug", SEED_SLUGS)


def rows(response: APIResponse) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], response.data)


def titles(response: APIResponse) -> list[str]:
    return [row["title"] for row in rows(response)]


@pytest.mark.parametrize(
    ("apply", "expected"),
    [
        pytest.param(lambda q: q.eq("title", "alpha"), ["alpha"], id="eq"),
        pytest.param(lambda q: q.neq("title", "alpha"), ["Beta", "gamma, delta"], id="neq"),
        pytest.param(lambda q: q.gt("position", 2), ["gamma, delta"], id="gt"),
        pytest.param(lambda q: q.gte("position", "2"), ["Beta", "gamma, delta"], id="gte"),
        pytest.param(lambda q: q.lt("position", 2), ["alpha"], id="lt"),
        pytest.param(lambda q: q.lte("position", 2), ["Beta", "alpha"], id="lte"),
        pytest.param(lambda q: q.like("title", "*ta*"), ["Beta", "gamma, delta"], id="like"),
        pytest.param(lambda q: q.ilike("title", "b*"), ["Beta"], id="ilike"),
        pytest.param(lambda q: q.is_("due_at", None), ["alpha", "gamma, delta"], id="is-null"),
        pytest.param(lambda q: q.is_("done", True), ["alpha"], id="is-true"),
        pytest.param(lambda q: q.not_.is_("label", None), ["Beta", "alpha"], id="not-is"),
        pytest.param(
            lambda q: q.in_("title", ["Beta", "gamma, delta"]), ["Beta", "gamma, delta"], id="in"
        ),
        pytest.param(lambda q: q.not_.in_("position", [1, 3]), ["Beta"], id="not-in"),
        pytest.param(
            lambda q: q.eq("done", False).gte("due_at", "2029-12-31T00:00:00+00:00"),
            ["Beta"],
            id="and",
        ),
        pytest.param(lambda q: q.contains("meta", {"tag": "x"}), ["alpha"], id="jsonb-contains"),
        pytest.param(
            lambda q: q.or_("title.eq.alpha,position.gt.2"), ["alpha", "gamma, delta"], id="or"
        ),
        pytest.param(lambda q: q.not_.or_("title.eq.alpha,position.gt.2"), ["Beta"], id="not-or"),
        pytest.param(
            lambda q: q.or_("title.eq.alpha,and(position.gte.2,label.is.null)"),
            ["alpha", "gamma, delta"],
            id="or-and",
        ),
        pytest.param(
            lambda q: q.or_("position.eq.1,not.and(done.is.false,due_at.is.null)").eq(
                "done", False
            ),
            ["Beta"],
            id="or-not-and-then-filter",
        ),
        pytest.param(
            lambda q: q.or_(' title.eq."gamma, delta", slug.in.(beta,"x,y") '),
            ["Beta", "gamma, delta"],
            id="or-quoted-and-in",
        ),
        pytest.param(
            lambda q: q.or_("title.ilike.b*,slug.not.in.(alpha,beta)"),
            ["Beta", "gamma, delta"],
            id="or-pattern-and-not",
        ),
        pytest.param(lambda q: q.eq("owner", OWNER_B), [], id="none"),
    ],
)
async def test_filters(service: AsyncClient, apply: Query, expected: list[str]) -> None:
    response = await apply(seeded(service)).execute()
    assert sorted(titles(response)) == expected


async def test_logic_tree_values_are_data(service: AsyncClient) -> None:
    """In a tree a value ends at `,` or `)` unless double-quoted, and inside the quotes a
    backslash escapes the next character, as PostgREST parses it (`pLogicSingleVal`)."""
    hostile = ["a,b)", 'say "hi"', "back\\slash", "x.y:z", "(paren", "{1,2}"]
    notes = service.table("notes")
    await notes.insert(
        [{"owner": OWNER_B, "title": t, "slug": f"tree-{i}"} for i, t in enumerate(hostile)]
    ).execute()

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    for title in hostile:
        found = await notes.select("title").or_(f"title.eq.{quoted(title)},slug.eq.none").execute()
        assert titles(found) == [title]
    # Unquoted, a dot is data too, and an array literal keeps its commas.
    dotted = await notes.select("title").or_("title.eq.x.y:z").execute()
    assert titles(dotted) == ["x.y:z"]
    array = await notes.select("title").or_("title.eq.{1,2},title.eq.nope").execute()
    assert titles(array) == ["{1,2}"]
    # A tree is a WHERE clause for Supabase's safeupdate.
    updated = await notes.update({"done": True}).or_("slug.eq.tree-0,slug.eq.tree-1").execute()
    assert sorted(r["title"] for r in rows(updated)) == ["a,b)", 'say "hi"']


@pytest.mark.parametrize(
    "tree",
    [
        "()",
        "(title.eq.alpha",
        "(title.eq.alpha,)",
        "(title.eq.alpha))",
        "(xor(title.eq.a))",
        "(title.nope.x)",
        "(title.in.a,b)",
        "title.eq.alpha",
    ],
)
async def test_malformed_logic_trees_are_refused(service: AsyncClient, tree: str) -> None:
    request = seeded(service)
    request.request.params = request.request.params.add("or", tree)
    with pytest.raises(APIError) as caught:
        await request.execute()
    assert caught.value.code == "PGRST100"


async def test_select_order_and_paging(service: AsyncClient) -> None:
    ordered = await seeded(service, "title", "rank:position").order("position", desc=True).execute()
    assert ordered.data == [
        {"title": "gamma, delta", "rank": 3},
        {"title": "Beta", "rank": 2},
        {"title": "alpha", "rank": 1},
    ]
    nulls_last = await seeded(service).order("due_at", nullsfirst=False).order("title").execute()
    assert titles(nulls_last) == ["Beta", "alpha", "gamma, delta"]
    page = await seeded(service).order("position").limit(1).offset(1).execute()
    assert titles(page) == ["Beta"]
    window = await seeded(service).order("position").range(1, 2).execute()
    assert titles(window) == ["Beta", "gamma, delta"]
    (alpha,) = rows(await seeded(service, "*").eq("slug", "alpha").execute())
    assert (alpha["meta"], alpha["label"], alpha["owner"]) == ({"tag": "x"}, "untitled", OWNER_A)
    assert uuid.UUID(alpha["id"])


async def test_count_exact(service: AsyncClient) -> None:
    notes = service.table("notes")
    partial = await notes.select("title", count=EXACT).in_("slug", SEED_SLUGS).limit(2).execute()
    assert (partial.count, len(partial.data)) == (3, 2)
    empty = await notes.select("*", count=EXACT).eq("slug", "nope").execute()
    assert (empty.count, empty.data) == (0, [])
    assert (await seeded(service).execute()).count is None


async def test_single_and_maybe_single(service: AsyncClient) -> None:
    one = await seeded(service).eq("slug", "beta").single().execute()
    assert one.data == {"title": "Beta"}
    for none_or_many in (seeded(service).eq("slug", "nope"), seeded(service)):
        with pytest.raises(APIError) as caught:
            await none_or_many.single().execute()
        assert caught.value.code == "PGRST116"
    assert await seeded(service).eq("slug", "nope").maybe_single().execute() is None
    found = await seeded(service).eq("slug", "alpha").maybe_single().execute()
    assert found is not None
    assert found.data == {"title": "alpha"}
    with pytest.raises(APIError) as caught:
        await seeded(service).maybe_single().execute()
    assert caught.value.code == "406"  # Raised by the client itself, from a 200 array.


async def test_insert_one_and_many(service: AsyncClient) -> None:
    notes = service.table("notes")
    typed = {
        "owner": OWNER_B,
        "title": "typed",
        "position": "7",
        "meta": {"a": [1, None]},
        "due_at": "2031-05-06T07:08:09+02:00",
    }
    (row,) = rows(await notes.insert(typed).execute())
    assert (row["position"], row["meta"], row["label"]) == (7, {"a": [1, None]}, "untitled")
    assert row["due_at"] == "2031-05-06T05:08:09+00:00"
    many = [{"owner": OWNER_B, "title": "m1", "label": "set"}, {"owner": OWNER_B, "title": "m2"}]
    as_null = rows(await notes.insert(many).execute())
    assert [r["label"] for r in as_null] == ["set", None]
    as_default = rows(await notes.insert(many, default_to_null=False).execute())
    assert [r["label"] for r in as_default] == ["set", "untitled"]
    minimal = await notes.insert(many, returning=MINIMAL, count=EXACT).execute()
    assert (minimal.data, minimal.count) == ([], 2)


async def test_upsert(service: AsyncClient) -> None:
    notes = service.table("notes")
    base = {"owner": OWNER_B, "slug": "upsert-me", "title": "first"}
    await notes.upsert(base, on_conflict="slug").execute()
    merged = await notes.upsert({**base, "title": "second"}, on_conflict="slug").execute()
    assert titles(merged) == ["second"]
    ignored = await notes.upsert(
        {**base, "title": "third"}, on_conflict="slug", ignore_duplicates=True
    ).execute()
    assert ignored.data == []
    current = await notes.select("title").eq("slug", "upsert-me").single().execute()
    assert current.data == {"title": "second"}


async def test_update_and_delete(service: AsyncClient) -> None:
    notes = service.table("notes")
    slugs = ["ud-1", "ud-2"]
    await notes.insert([{"owner": OWNER_B, "title": s, "slug": s} for s in slugs]).execute()
    updated = rows(await notes.update({"done": True}).in_("slug", slugs).execute())
    assert [row["done"] for row in updated] == [True, True]
    minimal = notes.update({"position": 5}, returning=MINIMAL, count=EXACT).in_("slug", slugs)
    assert (await minimal.execute()).model_dump() == {"data": [], "count": 2}
    renamed = notes.update({"title": "one"}).eq("slug", "ud-1").select("title").single()
    assert (await renamed.execute()).data == {"title": "one"}
    deleted = await notes.delete().eq("slug", "ud-1").execute()
    assert [row["slug"] for row in rows(deleted)] == ["ud-1"]
    assert (await notes.delete(returning=MINIMAL).eq("slug", "ud-2").execute()).data == []
    assert (await notes.select("id").in_("slug", slugs).execute()).data == []
    with pytest.raises(APIError) as caught:
        await notes.delete().execute()
    assert caught.value.code == "21000"  # Supabase's safeupdate refuses an unfiltered DELETE.


async def test_rpc(service: AsyncClient) -> None:
    assert (await service.rpc("count_notes", {"owner_id": OWNER_A}).execute()).data == 3
    by_get = service.rpc("count_notes", {"owner_id": OWNER_A}, get=True)
    assert (await by_get.execute()).data == 3
    table = service.rpc("notes_from", {"min_position": 2}).eq("owner", OWNER_A).order("title")
    assert [row["title"] for row in cast(list[dict[str, Any]], (await table.execute()).data)] == [
        "Beta",
        "gamma, delta",
    ]
    with pytest.raises(APIError) as caught:
        await service.rpc("fail", {"reason": "nope"}).execute()
    assert (caught.value.code, caught.value.message) == ("P0001", "nope")
    with pytest.raises(APIError) as caught:
        await service.rpc("no_such_function", {}).execute()
    assert caught.value.code == "PGRST202"


def insert(row: dict[str, Any]) -> Query:
    return lambda client: client.table("notes").insert({"owner": OWNER_A, "title": "t", **row})


def select(*columns: str, **equal: str) -> Query:
    def build(client: AsyncClient) -> Any:
        query = client.table("notes").select(*columns)
        for column, value in equal.items():
            query = query.eq(column, value)
        return query

    return build


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        pytest.param(insert({"slug": "alpha"}), "23505", id="unique"),
        pytest.param(insert({"owner": str(uuid.uuid4())}), "23503", id="foreign-key"),
        pytest.param(insert({"title": None}), "23502", id="not-null"),
        pytest.param(insert({"position": -1}), "23514", id="check"),
        pytest.param(insert({"due_at": "someday"}), "22007", id="bad-timestamp"),
        pytest.param(insert({"nope": 1}), "PGRST204", id="unknown-body-column"),
        pytest.param(insert({"title": "x" * 1_100_000}), "413", id="too-large"),
        pytest.param(select("*", id="not-a-uuid"), "22P02", id="bad-uuid"),
        pytest.param(select("nope"), "42703", id="unknown-select-column"),
        pytest.param(select("*", nope="1"), "42703", id="unknown-filter-column"),
        pytest.param(lambda c: c.table("missing").select("*"), "PGRST205", id="unknown-table"),
        pytest.param(
            lambda c: c.schema("private").table("notes").select("*"), "PGRST106", id="schema"
        ),
    ],
)
async def test_errors(service: AsyncClient, request_: Query, code: str) -> None:
    with pytest.raises(APIError) as caught:
        await request_(service).execute()
    assert caught.value.code == code
    assert caught.value.message


async def test_rejected_jwts(double: PostgrestDouble) -> None:
    forged = make_jwt("another-secret-that-is-also-32-bytes", role="service_role")
    expired = make_jwt(SECRET, role="service_role", expires_in=-60)
    for token in (forged, expired):
        client = await connect(double, token)
        with pytest.raises(APIError) as caught:
            await client.table("notes").select("*").execute()
        assert caught.value.code == "PGRST301"


async def test_unavailable(double: PostgrestDouble, service: AsyncClient) -> None:
    with double.unavailable():
        with pytest.raises(APIError) as caught:
            await seeded(service).retry(False).execute()  # Else GETs retry 503s for 7 s.
        assert caught.value.code == "PGRST000"
        with pytest.raises(APIError) as caught:
            await service.table("notes").insert({"owner": OWNER_A, "title": "down"}).execute()
        assert caught.value.code == "PGRST000"
    assert len((await seeded(service).execute()).data) == 3


async def test_row_level_security(double: PostgrestDouble, service: AsyncClient) -> None:
    (b_note,) = rows(
        await service.table("notes").insert({"owner": OWNER_B, "title": "B's"}).execute()
    )
    user_a = await connect(double, make_jwt(SECRET, role="authenticated", sub=OWNER_A))
    notes = user_a.table("notes")
    assert {row["owner"] for row in rows(await notes.select("owner").execute())} == {OWNER_A}
    assert (await notes.update({"title": "taken"}).eq("id", b_note["id"]).execute()).data == []
    assert (await notes.delete().eq("id", b_note["id"]).execute()).data == []
    with pytest.raises(APIError) as caught:
        await notes.insert({"owner": OWNER_B, "title": "forged"}).execute()
    assert caught.value.code == "42501"
    (mine,) = rows(await notes.insert({"owner": OWNER_A, "title": "mine"}).execute())
    assert mine["owner"] == OWNER_A
    anonymous = await connect(double, make_jwt(SECRET, role="anon"))
    assert (await anonymous.table("notes").select("*").execute()).data == []
    unchanged = (
        await service.table("notes").select("title").eq("id", b_note["id"]).single().execute()
    )
    assert unchanged.data == {"title": "B's"}
