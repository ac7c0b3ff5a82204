"""The command line itself: `--help` that reads well, `--json` documents of a stable shape, exit
codes, and the store-backed commands (`agents`, `migrate`) on the real test database, each run
as its own `python -m voxiectl` process."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from shared.contracts import AgentPatch
from shared.secret_box import SecretBox, new_key
from shared.store.postgres import PostgresStore
from tests.backend.test_agents import insert_poisoned
from tests.spawner.conftest import new_agent
from tests.voxiectl.conftest import voxiectl
from voxiectl.cli import app
from voxiectl.livekit_local import free_port

COMMANDS = ("start", "migrate", "agents", "rooms", "gc", "doctor", "secrets")


def test_help_lists_every_command_with_what_it_does() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert top.exit_code == 0
    for command in COMMANDS:
        assert f" {command} " in top.output
    assert "--json" in top.output and "doctor" in top.output
    agents = runner.invoke(app, ["agents", "--help"], env={"COLUMNS": "120"})
    assert agents.exit_code == 0
    assert all(f" {sub} " in agents.output for sub in ("list", "show", "find"))
    doctor = runner.invoke(app, ["doctor", "--help"], env={"COLUMNS": "120"})
    assert "one-line fix" in doctor.output and "--probe-timeout" in doctor.output
    # No command: the help, not a traceback.
    bare = runner.invoke(app, [])
    assert "Usage" in bare.output and "Traceback" not in bare.output


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "PLATFORM_ENV": "test"}


async def test_agents_find_any_spelling_and_did_you_mean(
    store: PostgresStore, env: dict[str, str], tmp_path: Path
) -> None:
    """The seeds' `clarence_coherence`: the underscore spelling finds `clarence-coherence`, a
    typo answers with the slug that was meant (exit 1), as JSON and as text."""
    tag = uuid.uuid4().hex[:6]
    slug = f"clarence-coherence-{tag}"
    agent = await store.create_agent(new_agent(slug=slug))
    found = await voxiectl(
        "--json", "agents", "find", f"clarence_coherence_{tag}", env=env, cwd=tmp_path
    )
    assert found.code == 0, found.stderr
    document = found.json()
    assert set(document) == {"query", "slug", "agents", "did_you_mean"}
    assert document["slug"] == slug and document["did_you_mean"] == []
    [row] = document["agents"]
    assert set(row) == {
        "id",
        "slug",
        "name",
        "owner_id",
        "status",
        "version",
        "published_version",
        "has_unpublished_changes",
        "updated_at",
    }
    assert row["id"] == str(agent.id) and row["status"] == "active"

    typo = await voxiectl(
        "--json", "agents", "find", f"clarence-coherance-{tag}", env=env, cwd=tmp_path
    )
    assert typo.code == 1
    assert typo.json()["agents"] == [] and typo.json()["did_you_mean"][0] == slug

    text = await voxiectl("agents", "find", f"Clarence Coherance {tag}", env=env, cwd=tmp_path)
    assert text.code == 1
    # Its nearest match first (other tests' agents may follow).
    assert f"hint: did you mean '{slug}'" in text.stderr and "Traceback" not in text.stderr

    shown = await voxiectl(
        "--json", "agents", "show", f"clarence_coherence_{tag}", env=env, cwd=tmp_path
    )
    assert shown.code == 0 and shown.json()["agent"]["id"] == str(agent.id)
    assert shown.json()["valid"] is True


async def test_agents_list_and_show_name_a_row_that_fails_the_contract(
    store: PostgresStore, env: dict[str, str], tmp_path: Path
) -> None:
    good = await store.create_agent(new_agent())
    bad = await insert_poisoned(env["DATABASE_URL"], owner=uuid.uuid4())
    listed = await voxiectl("--json", "agents", "list", env=env, cwd=tmp_path)
    assert listed.code == 0, listed.stderr
    assert str(good.id) in [a["id"] for a in listed.json()["agents"]]
    assert str(bad) in listed.json()["unreadable"]
    shown = await voxiectl("--json", "agents", "show", str(bad), env=env, cwd=tmp_path)
    assert shown.code == 0
    assert shown.json()["valid"] is False and shown.json()["agent"]["slug"] == "poisoned"
    assert shown.json()["problem"]
    missing = await voxiectl("--json", "agents", "show", str(uuid.uuid4()), env=env, cwd=tmp_path)
    assert missing.code == 1 and "error" in missing.json()


async def test_agents_list_search_is_the_stores_search(
    store: PostgresStore, env: dict[str, str], tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    owner = uuid.uuid4()
    named = await store.create_agent(new_agent(name=f"Needle {tag.upper()} 50%_off"))
    owned = await store.create_agent(new_agent(owner_id=owner))
    await store.create_agent(new_agent(name=f"Needle {tag} 50 and off"))

    async def listed(search: str) -> list[str]:
        ran = await voxiectl("--json", "agents", "list", "--search", search, env=env, cwd=tmp_path)
        assert ran.code == 0, ran.stderr
        return [a["id"] for a in ran.json()["agents"]]

    assert await listed(f"{tag} 50%_OFF") == [str(named.id)]
    assert await listed(str(owner)[:13]) == [str(owned.id)]  # an owner id's beginning
    too_long = await voxiectl("agents", "list", "--search", "x" * 101, env=env, cwd=tmp_path)
    assert too_long.code == 2 and "at most 100 characters" in too_long.stderr


async def test_migrate_reports_what_it_applied(env: dict[str, str], tmp_path: Path) -> None:
    ran = await voxiectl("--json", "migrate", env=env, cwd=tmp_path)
    assert ran.code == 0, ran.stderr
    assert ran.json() == {"database": "DATABASE_URL", "applied": []}  # the fixture migrated


async def test_bad_settings_exit_2_with_the_variable_named(tmp_path: Path) -> None:
    ran = await voxiectl(
        "--json", "agents", "list", env={"PLATFORM_ENV": "Not A Slug"}, cwd=tmp_path
    )
    assert ran.code == 2 and "PLATFORM_ENV" in ran.json()["error"]
    doctor = await voxiectl("--json", "doctor", env={"PLATFORM_ENV": "Not A Slug"}, cwd=tmp_path)
    assert doctor.code == 1
    [settings] = doctor.json()["checks"]
    assert settings["name"] == "settings" and settings["status"] == "fail"
    assert "PLATFORM_ENV" in settings["detail"] and settings["fix"]


async def test_secrets_rotate_reseals_under_the_new_key_and_values_survive(
    env: dict[str, str], tmp_path: Path, store: PostgresStore, database_url: str
) -> None:
    # Rotation reads every owner's secrets: other tests' (under keys of their own) would be
    # unreadable here, so this test starts from none.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("delete from public.owner_secrets")
    finally:
        await conn.close()
    made = await voxiectl("--json", "secrets", "new-key", env=env, cwd=tmp_path)
    old, new = made.json()["key"], new_key()
    owner = uuid.uuid4()
    sealed = SecretBox([SecretStr(old)]).seal(owner, "CLINIC", "Bearer rotate-me")
    await store.create_secret(owner, "CLINIC", ["api.clinic.example"], sealed)

    keys = {**env, "SECRETS_KEYS": json.dumps([new, old])}
    ran = await voxiectl("--json", "secrets", "rotate", env=keys, cwd=tmp_path)
    assert ran.code == 0, ran.stderr
    assert ran.json()["resealed"] >= 1 and ran.json()["unreadable"] == []
    assert "rotate-me" not in ran.stdout + ran.stderr
    [row] = [s for s in await store.list_secrets(owner)]
    only_new = SecretBox([SecretStr(new)])
    assert only_new.current(row.ciphertext)
    assert only_new.open(owner, "CLINIC", row.ciphertext).get_secret_value() == "Bearer rotate-me"

    again = await voxiectl("--json", "secrets", "rotate", env=keys, cwd=tmp_path)
    assert again.json()["resealed"] == 0
    lost = await voxiectl(
        "--json",
        "secrets",
        "rotate",
        env={**env, "SECRETS_KEYS": json.dumps([new_key()])},
        cwd=tmp_path,
    )
    assert lost.code == 1 and f"{owner}/CLINIC" in lost.stdout
    unset = await voxiectl("secrets", "rotate", env=env, cwd=tmp_path)
    assert unset.code == 2 and "SECRETS_KEYS is not set" in unset.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["migrate"],
        ["agents", "list"],
        ["agents", "show", "clarence"],
        ["agents", "find", "clarence"],
        ["rooms", "list"],
        ["rooms", "close", "agent-x"],
        ["gc"],
        ["doctor", "--probe-timeout", "1"],
        ["secrets", "new-key"],
        ["secrets", "rotate"],
    ],
)
async def test_no_command_ends_in_a_traceback_with_nothing_running(
    command: list[str], tmp_path: Path
) -> None:
    """Issue 22: every command against nothing at all (no database, no LiveKit, no backend)
    answers with a sentence and an exit code, never a traceback."""
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/voxie"
    env = {
        "PLATFORM_ENV": "test",
        "DATABASE_URL": closed,
        "BACKEND_URL": f"http://127.0.0.1:{free_port()}",
        "STORE_TIMEOUT_S": "2",
    }
    for as_json in ([], ["--json"]):
        ran = await voxiectl(*as_json, *command, env=env, cwd=tmp_path)
        assert "Traceback" not in ran.stdout + ran.stderr, (command, ran.stderr)
        assert ran.code in (0, 1, 2), (command, ran.code, ran.stderr)


async def test_agents_list_names_the_revision_and_the_published_version(
    store: PostgresStore, env: dict[str, str], tmp_path: Path
) -> None:
    """The row's `version` counts the draft's saves: the table calls it the revision, beside the
    version calls run (the dashboard's words), never "version" alone."""
    tag = uuid.uuid4().hex[:8]
    live = await store.create_agent(new_agent(name=f"Live {tag}"))  # active: publishes v1
    edited = await store.update_agent(
        live.id, AgentPatch(greeting="Hello again."), expected_version=live.version
    )
    await store.create_agent(new_agent(name=f"Unfinished {tag}", status="draft"))
    listed = await voxiectl("agents", "list", "--search", tag, env=env, cwd=tmp_path)
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    [header] = [line for line in lines if " slug " in line]
    assert " published " in header and " revision " in header and " version " not in header
    [live_row] = [line for line in lines if f"Live {tag}" in line]
    assert " v1 " in live_row and f" {edited.version} (unpublished) " in live_row
    [draft_row] = [line for line in lines if f"Unfinished {tag}" in line]
    assert " - " in draft_row and "(unpublished)" not in draft_row
    document = await voxiectl("--json", "agents", "list", "--search", tag, env=env, cwd=tmp_path)
    by_name = {a["name"]: a for a in document.json()["agents"]}
    assert by_name[f"Live {tag}"]["published_version"] == 1
    assert by_name[f"Live {tag}"]["version"] == edited.version
    assert by_name[f"Unfinished {tag}"]["published_version"] is None
