"""`voxiectl`: the operator's one command for the Voxie platform.

    voxiectl start                 run the whole platform on this machine (scripts/start)
    voxiectl migrate               apply the database migrations
    voxiectl agents list|show|find every owner's agents; a slug lookup that says "did you mean"
    voxiectl rooms list|close      the live platform rooms (through the backend API)
    voxiectl gc                    one reconciler pass now (through the backend API)
    voxiectl doctor                check everything and say how to fix what fails
    voxiectl secrets new-key|rotate  a key for SECRETS_KEYS; re-seal stored secrets under it

Settings come from the environment and `.env`, as for every platform process. `--json` prints
one JSON document on stdout for scripts; otherwise output is for people (coloured on a
terminal). Exit codes: 0 fine, 1 something failed (a doctor check, a refused call), 2 the
settings do not load or the command line is wrong.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, NoReturn, TypeVar
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from shared.logging import configure_logging
from shared.settings import ConfigError, Settings
from shared.store import AgentStore, NotFound, StoreError
from shared.store.search import search_error
from voxiectl import doctor as doctor_module
from voxiectl.agents import find_slug, fleet, summary
from voxiectl.api import ApiError, Backend
from voxiectl.local_settings import as_launched

T = TypeVar("T")

app = typer.Typer(
    name="voxiectl",
    help="Operate the Voxie platform: start it, migrate, look up agents and rooms, and run "
    "`doctor` to find what is wrong.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)
agents_app = typer.Typer(
    help="Every owner's agents, straight from the store.", no_args_is_help=True
)
rooms_app = typer.Typer(
    help="Live platform rooms, through the backend API (operator token).", no_args_is_help=True
)
secrets_app = typer.Typer(
    help="Keys that seal owners' secrets (SECRETS_KEYS), and their rotation.", no_args_is_help=True
)
app.add_typer(agents_app, name="agents")
app.add_typer(rooms_app, name="rooms")
app.add_typer(secrets_app, name="secrets")


class Output:
    """Where a command's result goes: a JSON document, or text for a person."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False)
        self.errors = Console(stderr=True, highlight=False)

    def json(self, document: Any) -> None:
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")

    def fail(self, message: str, *, code: int = 1, hint: str | None = None) -> NoReturn:
        if self.as_json:
            self.json({"error": message, "hint": hint})
        else:
            self.errors.print(f"[bold red]error:[/] {message}", soft_wrap=True)
            if hint:
                self.errors.print(f"[yellow]hint:[/] {hint}", soft_wrap=True)
        raise typer.Exit(code)


def _output(ctx: typer.Context) -> Output:
    output: Output = ctx.obj
    return output


@app.callback()
def main_options(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document for scripts.")
    ] = False,
) -> None:
    ctx.obj = Output(as_json)
    # stdout is the command's answer (a JSON document with --json): logs go to stderr, and
    # only what an operator should see (the store's unreadable-row errors, for instance).
    configure_logging("warning", "console", stderr=True)


def _settings(out: Output) -> Settings:
    try:
        return launched_settings()
    except ConfigError as exc:
        out.fail(f"configuration error: {exc}", code=2)


def launched_settings() -> Settings:
    """The environment's settings, completed from what `scripts/start` keeps in `.data/`."""
    return as_launched(Settings())


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def _with_store(settings: Settings, use: Callable[[AgentStore], Awaitable[T]]) -> T:
    from voxiectl.local_db import open_dev_store

    store = await open_dev_store(settings)
    try:
        return await use(store)
    finally:
        await store.close()


# --- start, migrate -----------------------------------------------------------------------------


@app.command()
def start() -> None:
    """Run the whole platform on this machine: database, LiveKit, backend and both workers.

    What `scripts/start` runs. It says what it started and what it skipped, and why;
    Ctrl-C stops everything in order.
    """
    from voxiectl.launcher import main as launch

    raise typer.Exit(launch())


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Apply the database migrations (DATABASE_URL, or the local database in dev)."""
    from shared.db.migrations import apply_migrations
    from shared.settings import StoreKind
    from voxiectl.local_db import local_dsn

    out = _output(ctx)
    settings = _settings(out)
    if settings.store_kind is StoreKind.SUPABASE:
        out.fail(
            "the store is Supabase REST: apply migrations with the Supabase CLI",
            hint="cd deploy && supabase db push (or set DATABASE_URL to the project's database)",
        )

    async def go() -> tuple[str, list[str]]:
        if settings.database_url is not None:
            return "DATABASE_URL", await apply_migrations(settings.database_url.get_secret_value())
        await local_dsn(settings)  # creates it and applies the migrations
        return f"local database in {settings.local_db_dir}", []

    try:
        where, applied = _run(go())
    except (OSError, StoreError) as exc:
        out.fail(f"the database is not reachable: {exc}")
    except Exception as exc:  # asyncpg's errors: a failed migration names its statement
        out.fail(f"migration failed: {type(exc).__name__}: {exc}")
    if out.as_json:
        out.json({"database": where, "applied": applied})
    elif applied:
        out.console.print(f"[green]applied[/] {len(applied)} migration(s) to {where}: {applied}")
    else:
        out.console.print(f"[green]up to date[/]: {where}")


# --- agents -------------------------------------------------------------------------------------


def _agents_table(rows: list[dict[str, Any]]) -> Table:
    # `version` is the draft's revision counter (every save), not a published version: the
    # table names both, as the dashboard does.
    table = Table("slug", "name", "status", "published", "revision", "id", "owner")
    for row in rows:
        published = row["published_version"]
        revision = str(row["version"])
        if published is not None and row["has_unpublished_changes"]:
            revision += " (unpublished)"
        table.add_row(
            row["slug"],
            row["name"],
            row["status"],
            "-" if published is None else f"v{published}",
            revision,
            row["id"],
            row["owner_id"],
        )
    return table


def _search_option(value: str | None) -> str | None:
    # A usage error (exit 2, like an unknown option), before any store is opened.
    if value is not None and (reason := search_error(value)) is not None:
        raise typer.BadParameter(reason)
    return value


@agents_app.command("list")
def agents_list(
    ctx: typer.Context,
    include_archived: Annotated[
        bool, typer.Option("--include-archived", help="Also list archived agents.")
    ] = False,
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            help="Only agents whose name, slug or voice contains this text (any case), or "
            "whose owner id starts with it.",
            callback=_search_option,
        ),
    ] = None,
) -> None:
    """Every owner's agents, newest first; rows that fail the contract are named at the end."""
    out = _output(ctx)
    settings = _settings(out)
    try:
        found = _run(
            _with_store(
                settings, lambda s: fleet(s, include_archived=include_archived, search=search)
            )
        )
    except StoreError as exc:
        out.fail(f"the store is not reachable: {exc}")
    rows = [summary(a) for a in found.agents]
    unreadable = [str(i) for i in found.unreadable]
    if out.as_json:
        out.json({"agents": rows, "unreadable": unreadable})
        return
    out.console.print(_agents_table(rows))
    if unreadable:
        out.console.print(
            f"[red]{len(unreadable)} row(s) fail the contract[/] (never run): "
            f"{', '.join(unreadable)} — `voxiectl agents show <id>` shows them"
        )


@agents_app.command("show")
def agents_show(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="An agent id, or a slug (any spelling).")],
) -> None:
    """One agent's stored row: by id (also a row that fails the contract), or by slug."""
    out = _output(ctx)
    settings = _settings(out)

    async def by_id(store: AgentStore, agent_id: UUID) -> dict[str, Any]:
        row = await store.get_agent_row(agent_id)
        try:
            await store.get_agent(agent_id)
            problem = None
        except StoreError as exc:
            problem = str(exc)
        return {"agent": row, "valid": problem is None, "problem": problem}

    try:
        agent_id = UUID(agent)
    except ValueError:
        agent_id = None
    try:
        if agent_id is not None:
            shown = _run(_with_store(settings, lambda s: by_id(s, agent_id)))
        else:
            found = _run(_with_store(settings, fleet))
            match = find_slug(agent, found.agents)
            if len(match.found) != 1:
                _slug_miss(out, match, len(match.found))
            picked = match.found[0]
            shown = {"agent": picked.model_dump(mode="json"), "valid": True, "problem": None}
    except NotFound as exc:
        out.fail(str(exc), hint=exc.hint)
    except StoreError as exc:
        out.fail(f"the store is not reachable: {exc}")
    if out.as_json:
        out.json(shown)
        return
    if not shown["valid"]:
        out.console.print(f"[red]this row fails the contract and never runs:[/] {shown['problem']}")
    out.console.print_json(data=shown["agent"])


def _slug_miss(out: Output, match: Any, count: int) -> NoReturn:
    if count > 1:
        owners = ", ".join(f"{a.id} (owner {a.owner_id})" for a in match.found)
        out.fail(
            f"{count} owners have an agent '{match.canonical}': {owners}",
            hint="show one by its id",
        )
    out.fail(f"no agent with slug '{match.canonical}'", hint=match.hint)


@agents_app.command("find")
def agents_find(
    ctx: typer.Context,
    slug: Annotated[
        str, typer.Argument(help="A slug as someone typed it: clarence_coherence, 'Clarence C'.")
    ],
) -> None:
    """Find agents by slug in any spelling; when none matches, say which slug was meant."""
    out = _output(ctx)
    settings = _settings(out)
    try:
        found = _run(_with_store(settings, fleet))
    except StoreError as exc:
        out.fail(f"the store is not reachable: {exc}")
    match = find_slug(slug, found.agents)
    if out.as_json:
        out.json(
            {
                "query": match.query,
                "slug": match.canonical,
                "agents": [summary(a) for a in match.found],
                "did_you_mean": match.suggestions,
            }
        )
        if not match.found:
            raise typer.Exit(1)
        return
    if not match.found:
        out.fail(f"no agent with slug '{match.canonical}'", hint=match.hint)
    if match.canonical != slug:
        out.console.print(f"'{slug}' is the slug [bold]{match.canonical}[/]")
    out.console.print(_agents_table([summary(a) for a in match.found]))


# --- rooms, gc ----------------------------------------------------------------------------------


def _api(out: Output, call: Callable[[Backend], Awaitable[T]]) -> T:
    settings = _settings(out)

    async def go() -> T:
        async with Backend(settings) as backend:
            return await call(backend)

    try:
        return _run(go())
    except ApiError as exc:
        out.fail(str(exc))


@rooms_app.command("list")
def rooms_list(ctx: typer.Context) -> None:
    """The live platform rooms: kind, agent, people, the agent's state, age."""
    out = _output(ctx)
    rooms = _api(out, lambda b: b.rooms())
    if out.as_json:
        out.json({"rooms": rooms})
        return
    table = Table("kind", "state", "humans", "agents", "age s")
    # The name is what `rooms close` takes: never cut, whatever the width (a pipe is 80 columns).
    table.add_column("room", no_wrap=True, overflow="ignore")
    table.columns.insert(0, table.columns.pop())
    for room in rooms:
        state = room["state"]
        style = "red" if state == "waiting_for_agent" else ""
        table.add_row(
            room["name"],
            room["kind"],
            f"[{style}]{state}[/]" if style else state,
            ", ".join(room["humans"]),
            ", ".join(room["agents"]),
            f"{room['age_s']:.0f}",
        )
    out.console.print(table)


@rooms_app.command("close")
def rooms_close(
    ctx: typer.Context, room: Annotated[str, typer.Argument(help="The room's name.")]
) -> None:
    """Close a room: its people are told why, then it is deleted."""
    out = _output(ctx)
    result = _api(out, lambda b: b.close_room(room))
    if out.as_json:
        out.json(result)
    else:
        out.console.print(f"[green]closed[/] {room}")


@app.command()
def gc(ctx: typer.Context) -> None:
    """Run one reconciler pass now, through the backend API.

    It re-dispatches rooms without an agent, removes extra agents, deletes empty rooms,
    finalises the sessions of vanished rooms and frees their agent slots.
    """
    out = _output(ctx)
    report = _api(out, lambda b: b.gc())
    if out.as_json:
        out.json(report)
        return
    actions = report.get("actions", [])
    out.console.print(
        f"looked at {report.get('rooms', 0)} room(s) and {report.get('open_sessions', 0)} open "
        f"session(s): {len(actions) or 'nothing'} to do" + (":" if actions else "")
    )
    for action in actions:
        detail = f" — {action['detail']}" if action.get("detail") else ""
        out.console.print(f"  {action['action']}: {action['room']}{detail}", soft_wrap=True)


# --- secrets ------------------------------------------------------------------------------------


@secrets_app.command("new-key")
def secrets_new_key(ctx: typer.Context) -> None:
    """Print a new key for SECRETS_KEYS (base64, 32 random bytes).

    To rotate: put it first in SECRETS_KEYS on every backend and spawner, restart them, run
    `voxiectl secrets rotate`, then remove the old key.
    """
    from shared.secret_box import new_key

    out = _output(ctx)
    key = new_key()
    if out.as_json:
        out.json({"key": key})
    else:
        out.console.print(key)


@secrets_app.command("rotate")
def secrets_rotate(ctx: typer.Context) -> None:
    """Re-seal every stored secret under the first key of SECRETS_KEYS."""
    from shared.secret_box import SecretBox
    from voxiectl.secrets import rotate

    out = _output(ctx)
    settings = _settings(out)
    if not settings.secrets_keys:
        out.fail("SECRETS_KEYS is not set", code=2, hint="voxiectl secrets new-key makes a key")
    box = SecretBox(settings.secrets_keys)
    try:
        done = _run(_with_store(settings, lambda store: rotate(store, box)))
    except StoreError as exc:
        out.fail(f"the store failed: {exc}")
    if out.as_json:
        out.json(vars(done))
    else:
        out.console.print(
            f"re-sealed {done.resealed}, already current {done.current}, "
            f"changed meanwhile {done.changed_meanwhile}"
        )
    if done.unreadable:
        out.fail(
            f"{len(done.unreadable)} secret(s) open with no listed key: "
            + ", ".join(done.unreadable[:10]),
            hint="add the key that sealed them back to SECRETS_KEYS and run rotate again",
        )


# --- doctor -------------------------------------------------------------------------------------

_MARKS = {
    doctor_module.Status.PASS: "[green]✔ pass[/]",
    doctor_module.Status.FAIL: "[bold red]✘ FAIL[/]",
    doctor_module.Status.WARN: "[yellow]! warn[/]",
    doctor_module.Status.SKIP: "[dim]- skip[/]",
}


@app.command()
def doctor(
    ctx: typer.Context,
    probe_timeout: Annotated[
        float,
        typer.Option(help="Seconds to wait for a worker to take the probe job.", min=1, max=120),
    ] = doctor_module.Options.probe_timeout_s,
) -> None:
    """Check the platform and explain each failure with a one-line fix.

    Settings for this PLATFORM_ENV; the database and its migrations; Supabase REST and JWKS;
    LiveKit with these credentials; the backend's webhook (a signed test event); a worker of
    each deployment taking a probe job (and how long that took); two deployments registered
    under one agent name; agents that no longer validate; rooms without an agent; sessions
    stuck open. Exits 1 when a check fails.
    """
    out = _output(ctx)
    options = doctor_module.Options(probe_timeout_s=probe_timeout)
    checks = _run(doctor_module.run(launched_settings, options))
    bad = doctor_module.failed(checks)
    if out.as_json:
        out.json({"ok": not bad, "checks": [c.as_json() for c in checks]})
    else:
        for check in checks:
            out.console.print(f"{_MARKS[check.status]}  [bold]{check.name}[/]: {check.detail}")
            if check.fix and check.status in (doctor_module.Status.FAIL, doctor_module.Status.WARN):
                out.console.print(f"         [cyan]fix:[/] {check.fix}")
        failures = sum(c.status is doctor_module.Status.FAIL for c in checks)
        out.console.print(
            f"[bold red]{failures} check(s) failed[/]" if bad else "[bold green]all checks pass[/]"
        )
    if bad:
        raise typer.Exit(1)


def main() -> None:
    app()
