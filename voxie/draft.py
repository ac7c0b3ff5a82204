"""The agent Voxie is building with the user, kept in the store as it grows.

Creation: nothing is stored until the agent has a name; from then on it is an `agents` row with
status `draft`, written on every change (optimistic version), so a dropped connection loses
nothing. `save()` marks it `active` once every required field is set and the user heard the
read-back (`review()` after the last change). Saving again changes nothing: one agent, ever.

Edit (the dispatch carries an `agent_id` of the caller's): the agent is loaded. A `draft` row is
written through as above; an `active` agent's row is its working draft: `save()` applies exactly
the fields the user changed to it in one version-checked update — a concurrent edit elsewhere
is reported (`DraftRefused`), never overwritten. Calls keep running the published version until
`publish()` makes the saved draft the next version (a new agent's first save, which activates
it, publishes version 1). After each save and publish the browser is told which version is live.

The owner is fixed when the draft is opened (from the dispatch metadata), never by the model.
Every refusal is a `DraftRefused` whose message tells the model what to ask the user next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from shared.catalog import SUPPORTED_VOICES
from shared.contracts import AgentConfig, AgentPatch, AgentStatus, NewAgent
from shared.contracts.dispatch import user_id_of, user_identity
from shared.contracts.room_messages import AgentSaved, DraftUpdate, LiveVersion
from shared.contracts.versions import AgentVersion
from shared.logging import get_logger
from shared.naming import SLUG_MAX_LENGTH, InvalidSlug, slug_from
from shared.store import AgentStore, Conflict, InvalidInput, NotFound, StoreUnavailable
from shared.store.errors import NothingToPublish
from shared.validation import describe_validation_error, excerpt
from voxie.messages import DraftSender

log = get_logger(__name__)

# What Voxie edits, in the order a summary reads them; the rest (model, pipeline) keep defaults.
FIELDS = ("name", "slug", "voice", "language", "greeting", "instructions", "tools")
REQUIRED = ("name", "voice", "greeting", "instructions")
_SLUG_ALTERNATIVES = 20

# Computes the new tool list from the current one (each tool as its JSON object).
ToolsEdit = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


class DraftRefused(Exception):
    """A change or save that cannot be made; the message says what to ask the user next."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAnOwner(ValueError):
    """The session was requested by an identity that cannot own agents."""


def owner_id_from(requested_by: str) -> UUID:
    """The owner of what a session creates: `user:<uuid>` (as the backend mints it for a
    Supabase user) → that uuid. Any other identity (an operator, a service, `user:` with the
    operator's nil owner id) owns nothing (`shared.contracts.dispatch.names_a_user`)."""
    if (user_id := user_id_of(requested_by)) is not None:
        return user_id
    raise NotAnOwner(
        f"requested_by '{excerpt(requested_by)}' is not a user's 'user:<uuid>': "
        "Voxie builds agents for users only"
    )


@dataclass(frozen=True, slots=True)
class Saved:
    agent: AgentConfig
    already: bool  # nothing had changed since the last save


class Draft:
    def __init__(
        self, store: AgentStore, sender: DraftSender, owner_id: UUID, agent: AgentConfig | None
    ) -> None:
        self._store = store
        self._sender = sender
        self.owner_id = owner_id
        self._row = agent
        self._values: dict[str, Any] = (
            agent.model_dump(mode="json", include=set(FIELDS)) if agent else {}
        )
        # Fields whose current value the row does not hold yet (an active agent's unconfirmed
        # edits, or a write the store could not take).
        self._pending: set[str] = set()
        # A new agent's slug follows its name until the user picks one; a stored one stays.
        self._slug_follows_name = agent is None
        self._reviewed = False
        # The model may call several tools at once; each change must see the last version.
        self._lock = asyncio.Lock()

    @property
    def store(self) -> AgentStore:
        return self._store

    @classmethod
    async def open(
        cls, store: AgentStore, sender: DraftSender, owner_id: UUID, agent_id: UUID | None
    ) -> Draft:
        """A new draft, or (edit mode) the owner's agent `agent_id`: NotFound if it is not
        theirs or archived."""
        agent = None
        if agent_id is not None:
            agent = await store.get_agent(agent_id, owner_id=owner_id)
            if agent.status is AgentStatus.ARCHIVED:
                raise NotFound(f"agent {agent_id} is archived")
        return cls(store, sender, owner_id, agent)

    # --- state ---------------------------------------------------------------------------------

    @property
    def agent(self) -> AgentConfig | None:
        """The stored row as last read or written."""
        return self._row

    @property
    def editing(self) -> bool:
        """Changing an active agent: changes wait for `save()`."""
        return self._row is not None and self._row.status is not AgentStatus.DRAFT

    @property
    def unsaved(self) -> list[str]:
        return [field for field in FIELDS if field in self._pending]

    def fields(self) -> dict[str, Any]:
        return {field: self._values[field] for field in FIELDS if field in self._values}

    def missing(self) -> list[str]:
        return [field for field in REQUIRED if not self._values.get(field)]

    def summary(self) -> str:
        """The draft as the model reads it back: every field, what is missing, what is unsaved."""
        values = self._values
        lines = [
            f"Name: {values.get('name') or '(not set)'}",
            f"Web address (slug): {values.get('slug') or '(follows the name)'}",
            f"Voice: {_voice_line(values.get('voice'))}",
            f"Language: {values.get('language', 'en')}",
            f"Greeting: {values.get('greeting') or '(not set)'}",
            f"Instructions: {_excerpt(values.get('instructions'))}",
            f"Business actions (HTTP tools): {_tools_line(values.get('tools', []))}",
        ]
        if missing := self.missing():
            lines.append(f"Still missing: {', '.join(missing)}")
        if self.editing and (unsaved := self.unsaved):
            lines.append(f"Changed but not saved yet: {', '.join(unsaved)}")
        return "\n".join(lines)

    # --- changes -------------------------------------------------------------------------------

    async def change(self, **values: Any) -> None:
        """Validates and applies `values` (AgentPatch fields), stores them, tells the browser."""
        await self._apply(lambda _current: values)

    async def edit_tools(self, edit: ToolsEdit) -> None:
        """Changes the tool list as `edit` says, computed from the list as it is at that moment:
        several tools added in one turn all stay."""
        await self._apply(lambda current: {"tools": edit(list(current.get("tools", [])))})

    async def _apply(self, make: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        async with self._lock:
            values = make(self._values)
            try:
                changes = AgentPatch.model_validate(values).changes()
            except ValidationError as exc:
                raise DraftRefused(describe_validation_error(exc)) from None
            candidate = {**self._values, **changes}
            if "name" in changes and "slug" not in changes and self._slug_follows_name:
                try:
                    candidate["slug"] = slug_from(changes["name"])
                except InvalidSlug:
                    raise DraftRefused(
                        "the name needs at least one letter or digit (it also makes the agent's "
                        "web address); ask for another name"
                    ) from None
            changed = {field for field in FIELDS if candidate.get(field) != self._values.get(field)}
            if not changed:
                return
            await self._persist(candidate, changed)
            self._values = candidate
            if "slug" in changes:
                self._slug_follows_name = False
            self._reviewed = False
        await self._announce()

    async def _persist(self, candidate: dict[str, Any], changed: set[str]) -> None:
        if self.editing:
            if "slug" in changed:
                await self._require_free_slug(candidate["slug"])
            self._pending |= changed
            return
        if not candidate.get("name"):
            self._pending |= changed  # nothing to store until the agent has a name
            return
        try:
            if self._row is None:
                self._row = await self._create(candidate, AgentStatus.DRAFT)
            else:
                fields = self._pending | changed
                self._row = await self._update(AgentPatch(**{f: candidate[f] for f in fields}))
            self._pending.clear()
        except StoreUnavailable:
            # Kept here and written with the next change, the save, or the session's end.
            log.warning("draft_write_deferred", fields=sorted(changed))
            self._pending |= changed

    async def review(self) -> str:
        """The read-back; `save()` requires one after the last change."""
        async with self._lock:
            self._reviewed = True
            return self.summary()

    async def save(self) -> Saved:
        async with self._lock:
            if missing := self.missing():
                raise DraftRefused(
                    f"not ready to save: still missing {', '.join(missing)}. Ask the user for "
                    "them first."
                )
            if not self._reviewed:
                raise DraftRefused(
                    "the user has not heard the final draft: call review_draft, read the summary "
                    "back, and save only after they confirm it."
                )
            row = self._row
            if row is not None and row.status is AgentStatus.ACTIVE and not self._pending:
                return Saved(row, already=True)
            try:
                if row is None:
                    row = await self._create(self._values, AgentStatus.ACTIVE)
                else:
                    changes = {field: self._values[field] for field in self._pending}
                    row = await self._update(AgentPatch(**changes, status=AgentStatus.ACTIVE))
            except StoreUnavailable:
                raise DraftRefused(
                    "the agent could not be saved: the database is unreachable right now. Nothing "
                    "is lost; tell the user and try save_agent again in a moment."
                ) from None
            self._adopt(row)
        log.info("agent_saved", agent_id=str(row.id), slug=row.slug, version=row.version)
        await self._sender.agent_saved(AgentSaved(agent_id=row.id, slug=row.slug, name=row.name))
        await self._announce()
        await self._announce_version()
        return Saved(row, already=False)

    async def publish(self, note: str = "") -> AgentVersion:
        """Publishes the saved draft as the agent's next version: calls run it from now on."""
        async with self._lock:
            row = self._row
            if row is None or row.status is not AgentStatus.ACTIVE:
                raise DraftRefused("the agent is not saved yet: save it first (save_agent)")
            if self._pending:
                raise DraftRefused(
                    f"these changes are not saved yet: {', '.join(self.unsaved)}. Review and "
                    "save them first (review_draft, then save_agent), then publish."
                )
            try:
                published = await self._store.publish_version(
                    row.id,
                    published_by=user_identity(self.owner_id),
                    note=note,
                    owner_id=self.owner_id,
                )
            except NothingToPublish:
                raise DraftRefused(
                    f"nothing to publish: calls already run exactly the saved agent (version "
                    f"{row.published_version})"
                ) from None
            except Conflict:
                raise DraftRefused(
                    "the agent was changed elsewhere meanwhile; nothing was published. Tell the "
                    "user; reload_agent takes the stored version."
                ) from None
            except NotFound:
                raise DraftRefused("the agent was deleted or archived meanwhile") from None
            except StoreUnavailable:
                raise DraftRefused(
                    "the database is unreachable right now; nothing was published. Tell the "
                    "user and try publish_agent again in a moment."
                ) from None
            except InvalidInput as exc:
                raise DraftRefused(str(exc)) from None
            self._row = row.model_copy(
                update={"published_version": published.version, "has_unpublished_changes": False}
            )
        log.info("agent_published", agent_id=str(row.id), version=published.version)
        await self._announce_version()
        return published

    async def reload(self) -> None:
        """Drops unsaved edits and takes the stored agent as it is now (after a conflict)."""
        async with self._lock:
            if self._row is None:
                raise DraftRefused("nothing is stored yet, so there is nothing to reload")
            try:
                row = await self._store.get_agent(self._row.id, owner_id=self.owner_id)
            except NotFound:
                raise DraftRefused("the agent was deleted meanwhile; it cannot be edited") from None
            self._adopt(row)
            self._reviewed = False
        await self._announce()

    async def flush(self) -> None:
        """At the session's end: store what a store outage held back. An active agent's edits
        the user never confirmed are not applied (they are logged)."""
        async with self._lock:
            if not self._pending:
                return
            if self.editing:
                log.warning("unconfirmed_edits_dropped", fields=self.unsaved)
                return
            if not self._values.get("name"):
                return
            try:
                if self._row is None:
                    self._row = await self._create(self._values, AgentStatus.DRAFT)
                else:
                    changes = {field: self._values[field] for field in self._pending}
                    self._row = await self._update(AgentPatch(**changes))
                self._pending.clear()
            except (DraftRefused, StoreUnavailable) as exc:
                log.error("draft_not_stored", reason=str(exc), draft=self.fields())

    # --- store ---------------------------------------------------------------------------------

    async def _create(self, values: dict[str, Any], status: AgentStatus) -> AgentConfig:
        fields = {field: values[field] for field in FIELDS if field in values}
        try:
            new = NewAgent.model_validate({**fields, "owner_id": self.owner_id, "status": status})
        except ValidationError as exc:
            raise DraftRefused(describe_validation_error(exc)) from None
        try:
            return await self._store.create_agent(new)
        except Conflict:
            raise await self._slug_refusal(new.slug) from None
        except InvalidInput as exc:
            raise DraftRefused(str(exc)) from None

    async def _update(self, patch: AgentPatch) -> AgentConfig:
        row = self._row
        assert row is not None
        try:
            return await self._store.update_agent(
                row.id, patch, expected_version=row.version, owner_id=self.owner_id
            )
        except Conflict as exc:
            if exc.current_version is None:  # the slug, not the version
                raise await self._slug_refusal(patch.slug or row.slug) from None
            raise DraftRefused(
                f"this agent was changed elsewhere meanwhile (it is now at version "
                f"{exc.current_version}, this conversation had version {row.version}); nothing "
                "was overwritten. Tell the user; reload_agent takes the stored version, after "
                "which the changes can be made again."
            ) from None
        except NotFound:
            raise DraftRefused("the agent was deleted meanwhile; it cannot be changed") from None
        except InvalidInput as exc:
            raise DraftRefused(str(exc)) from None

    async def _slug_free(self, slug: str) -> bool:
        try:
            holder = await self._store.get_agent_by_slug(self.owner_id, slug)
        except NotFound:
            return True
        own = self._row is not None and holder.id == self._row.id
        return own or holder.status is AgentStatus.ARCHIVED

    async def _require_free_slug(self, slug: str) -> None:
        if not await self._slug_free(slug):
            raise await self._slug_refusal(slug)

    async def _slug_refusal(self, slug: str) -> DraftRefused:
        message = f"the web address (slug) '{slug}' is already used by another of the user's agents"
        for candidate in _alternatives(slug):
            if await self._slug_free(candidate):
                return DraftRefused(
                    f"{message}. Suggest '{candidate}' instead (set it with set_slug) or ask for "
                    "another name."
                )
        return DraftRefused(f"{message}. Ask the user for a different name or slug.")

    def _adopt(self, row: AgentConfig) -> None:
        self._row = row
        self._values = row.model_dump(mode="json", include=set(FIELDS))
        self._pending.clear()
        self._slug_follows_name = False

    async def _announce_version(self) -> None:
        row = self._row
        if row is None:
            return
        await self._sender.agent_version(
            LiveVersion(
                agent_id=row.id,
                published_version=row.published_version,
                has_unpublished_changes=row.has_unpublished_changes,
            )
        )

    async def _announce(self) -> None:
        row = self._row
        await self._sender.draft(
            DraftUpdate(
                agent_id=row.id if row else None,
                version=row.version if row else None,
                status=row.status.value if row else AgentStatus.DRAFT.value,
                fields=self.fields(),
                missing=self.missing(),
            )
        )


def _alternatives(slug: str) -> Iterable[str]:
    for n in range(2, _SLUG_ALTERNATIVES + 2):
        suffix = f"-{n}"
        yield slug[: SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix


def _voice_line(voice: str | None) -> str:
    if not voice:
        return "(not chosen)"
    return f"{voice} ({SUPPORTED_VOICES.get(voice, 'unknown')})"


def _excerpt(text: str | None, limit: int = 600) -> str:
    if not text:
        return "(not written)"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters in all)"


def _tools_line(tools: list[dict[str, Any]]) -> str:
    if not tools:
        return "none"
    return "; ".join(
        f"{tool['name']} ({tool.get('method', '')} {tool.get('url', '')})".replace(" )", ")")
        for tool in tools
    )
