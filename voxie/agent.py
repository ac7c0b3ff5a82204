"""Voxie as a LiveKit `Agent`: its instructions and the tools the model uses to build an agent.

Each tool sets one part of the draft (`voxie.draft.Draft`), which validates it with the
AgentConfig contract and stores it. A refused value raises `ToolError` whose message tells the
model what to ask the user again. Docstrings are the tool descriptions the model sees.

The mapping from settings to the session (model, voice, room options) lives here too, so it is
testable without a room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from livekit.agents import Agent, function_tool, llm
from livekit.agents.llm import ToolError
from livekit.agents.voice.room_io import RoomOptions, TextInputOptions
from pydantic import BaseModel, Field, ValidationError

from shared.addresses import (
    AddressRefused,
    Resolver,
    check_tool_destinations,
    system_resolver,
)
from shared.catalog import SUPPORTED_VOICES
from shared.contracts import HttpTool
from shared.contracts.secrets import binding_problems
from shared.logging import get_logger
from shared.naming import InvalidSlug, slug_from

# The OpenAI plugin registers on import, on the main thread: this module is imported there.
from shared.realtime_model import realtime_model
from shared.settings import Settings
from shared.store import StoreError
from shared.tool_access import ToolAccess
from shared.validation import describe_validation_error
from voxie.draft import Draft, DraftRefused, ToolsEdit

log = get_logger(__name__)

INSTRUCTIONS_FILE = Path(__file__).with_name("instructions.md")
GREET = (
    "Greet the user warmly as Voxie in one or two sentences and ask what the agent they want "
    "to build is for."
)
GREET_EDIT = (
    "Greet the user as Voxie in one sentence, say which agent you are editing (by its name), "
    "and ask what they would like to change."
)

# Voxie listens to the browser's microphone and to typed chat (`lk.chat`): URLs and long
# descriptions are easier to paste than to say.
ROOM_OPTIONS = RoomOptions(text_input=TextInputOptions(), audio_input=True, audio_output=True)


def voxie_instructions(draft: Draft | None = None, path: Path = INSTRUCTIONS_FILE) -> str:
    """Voxie's prompt: the `.md` file with the voice list filled in, plus the agent being
    edited (edit mode)."""
    voices = "\n".join(f"- {name}: {character}" for name, character in SUPPORTED_VOICES.items())
    text = path.read_text(encoding="utf-8").replace("{voices}", voices)
    if draft is not None and draft.agent is not None:
        text += (
            "\n\n# You are editing an existing agent\n\n"
            "The user wants to change the agent below. Change only what they ask for, with the "
            "same tools; the other fields stay as they are. When they are done, call "
            "`review_draft`, read the changes back, and `save_agent` after they confirm; then ask "
            "whether to publish them now (`publish_agent`).\n\n" + draft.summary()
        )
    return text


def voxie_llm(settings: Settings) -> llm.RealtimeModel:
    """Voxie's own realtime speech model, from settings."""
    return realtime_model(settings, model=settings.voxie_model, voice=settings.voxie_voice)


class ToolInput(BaseModel):
    """One value the agent sends to a business action."""

    name: Annotated[str, Field(description="snake_case name, e.g. customer_phone")]
    type: Literal["string", "number", "integer", "boolean"] = "string"
    description: Annotated[str, Field(description="what it means, for the agent that fills it")]
    required: bool = True


class VoxieAgent(Agent):
    def __init__(
        self,
        draft: Draft,
        *,
        access: ToolAccess,
        instructions: str | None = None,
        resolve: Resolver = system_resolver,
    ) -> None:
        super().__init__(instructions=instructions or voxie_instructions(draft))
        self.draft = draft
        # The owner's secrets and egress exemptions: what the API would accept on save.
        self._access = access
        self._resolve = resolve

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions=GREET_EDIT if self.draft.agent else GREET)

    # --- fields --------------------------------------------------------------------------------

    @function_tool
    async def set_name(self, name: str) -> str:
        """Sets the agent's name, e.g. "Clarence". Call as soon as the user has chosen it: from
        then on the draft is saved as the user goes. The agent's web address (slug) is made from
        the name unless `set_slug` chose another.

        Args:
            name: the agent's name as the user wants it shown (at most 80 characters)
        """
        return await self._change(name=name)

    @function_tool
    async def set_slug(self, slug: str) -> str:
        """Sets the agent's web address (slug), e.g. "clarence-2". Use it when the address made
        from the name is taken (the error suggests a free one) or the user asks for another.

        Args:
            slug: lowercase words joined by hyphens; other spellings are normalised
        """
        try:
            canonical = slug_from(slug)
        except InvalidSlug as exc:
            raise ToolError(f"{exc}; ask the user for another web address") from None
        return await self._change(slug=canonical)

    @function_tool
    async def set_voice(self, voice: str) -> str:
        """Sets the voice the agent speaks with. Only the offered voices exist: marin, cedar,
        alloy, ash, ballad, coral, echo, sage, shimmer, verse.

        Args:
            voice: the voice's name, exactly as offered
        """
        return await self._change(voice=voice.strip().lower())

    @function_tool
    async def set_greeting(self, greeting: str) -> str:
        """Sets the first sentence the agent says when a call starts.

        Args:
            greeting: the greeting, as it should be spoken (at most 1000 characters)
        """
        return await self._change(greeting=greeting)

    @function_tool
    async def set_instructions(self, instructions: str) -> str:
        """Sets the agent's complete system prompt, which you write from everything the user
        told you: the business, its callers and their goals, facts, how and when to use each
        business action, what it must not promise, tone, and what to do when unsure. Always the
        full text (it replaces the previous one), at most 20000 characters.

        Args:
            instructions: the complete system prompt, in the second person ("You are ...")
        """
        return await self._change(instructions=instructions)

    @function_tool
    async def set_language(self, language: str) -> str:
        """Sets the language the agent speaks, when it is not English.

        Args:
            language: a language code such as "en", "es", "de" or "pt-BR"
        """
        return await self._change(language=language.strip())

    # --- business actions ----------------------------------------------------------------------

    @function_tool
    async def add_http_tool(
        self,
        name: str,
        description: str,
        url: str,
        method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST",
        inputs: list[ToolInput] | None = None,
        secret_name: str = "",
    ) -> str:
        """Adds a business action the agent performs by calling an HTTP endpoint the user gave
        (adding one with an existing name replaces it). Only public internet addresses work.

        Args:
            name: snake_case action name, e.g. book_appointment
            description: when the agent should use it and what it does, written for the agent
            url: the full endpoint URL the user gave, e.g. https://api.example.com/bookings
            method: the HTTP method
            inputs: the values the agent sends (as JSON body, or query for GET)
            secret_name: name of one of the user's secrets (see `list_secrets`) sent as the
                Authorization header, e.g. CLINIC_API_TOKEN; empty when the endpoint needs none
        """
        spec: dict[str, Any] = {
            "name": name,
            "description": description,
            "url": url.strip(),
            "method": method,
            "parameters": _schema(inputs or []),
        }
        if secret_name:
            spec["headers"] = {"Authorization": {"secret": secret_name.strip()}}
        try:
            tool = HttpTool.model_validate(spec)
        except ValidationError as exc:
            raise ToolError(
                f"the action was not added: {describe_validation_error(exc)}. Ask the user to "
                "check it (a URL looks like https://api.example.com/path)."
            ) from None
        try:
            grants = await self._access.grants(self.draft.owner_id)
        except StoreError:
            raise ToolError(
                "the action was not added: the platform could not check it just now. Tell the "
                "user and try again in a moment."
            ) from None
        if problems := binding_problems([tool], grants.secrets):
            raise ToolError(
                f"the action was not added: {'; '.join(problems)}. The user's secrets are "
                f"{_secrets_text(grants.secrets)}; a new one is added on the Secrets page of "
                "the dashboard, bound to the endpoint's host."
            )
        try:
            await check_tool_destinations([tool], allowlist=grants.allow, resolve=self._resolve)
        except AddressRefused as exc:
            raise ToolError(
                f"the action was not added: {exc}. Ask the user for the endpoint's public "
                "internet address."
            ) from None
        added = tool.model_dump(mode="json")

        def put(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [*(t for t in tools if t.get("name") != tool.name), added]

        return await self._edit_tools(put)

    @function_tool
    async def list_secrets(self) -> str:
        """Lists the names of the user's secrets (API keys kept on the platform) and the hosts
        each may be sent to. Use it before adding an action whose endpoint needs a key, and let
        the user pick one by name; never ask for the key itself."""
        try:
            grants = await self._access.grants(self.draft.owner_id, egress=False)
        except StoreError:
            raise ToolError("the secrets could not be read just now; try again") from None
        return f"The user's secrets: {_secrets_text(grants.secrets)}."

    @function_tool
    async def remove_http_tool(self, name: str) -> str:
        """Removes a business action by name.

        Args:
            name: the action's name
        """

        def drop(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
            kept = [t for t in tools if t.get("name") != name]
            if len(kept) == len(tools):
                names = ", ".join(t["name"] for t in tools) or "none"
                raise DraftRefused(f"there is no action '{name}' (the actions are: {names})")
            return kept

        return await self._edit_tools(drop)

    # --- read-back and save --------------------------------------------------------------------

    @function_tool
    async def review_draft(self) -> str:
        """Returns the whole draft to read back to the user before saving. Call it when every
        field is set; read it back briefly and ask the user to confirm."""
        return await self.draft.review()

    @function_tool
    async def save_agent(self) -> str:
        """Saves the agent so it can be used, after the user confirmed the read-back of
        `review_draft`. Saving again changes nothing."""
        try:
            saved = await self.draft.save()
        except DraftRefused as exc:
            raise ToolError(exc.message) from None
        agent = saved.agent
        if saved.already:
            return f"'{agent.name}' was already saved; nothing changed since."
        if agent.has_unpublished_changes and agent.published_version is not None:
            return (
                f"Saved the changes to the draft of '{agent.name}'. Calls still run version "
                f"{agent.published_version} until the draft is published. Ask the user whether "
                "to publish the changes now (publish_agent) or keep them as a draft to test "
                "first from the dashboard."
            )
        return (
            f"Saved '{agent.name}' (web address {agent.slug}); calls run version "
            f"{agent.published_version}. The user can test it now from the dashboard."
        )

    @function_tool
    async def publish_agent(self, note: str = "") -> str:
        """Publishes the saved changes as the agent's next version, so every new call runs
        them. Call it only after `save_agent`, and only when the user said yes to publishing
        now. `note`: a few words on what changed, in the user's terms (e.g. "friendlier
        greeting")."""
        try:
            published = await self.draft.publish(note)
        except DraftRefused as exc:
            raise ToolError(exc.message) from None
        return (
            f"Published version {published.version}: new calls run it from now on; calls "
            "already in progress finish on the version they started with."
        )

    @function_tool
    async def reload_agent(self) -> str:
        """After a save reported that the agent was changed elsewhere: drops the changes of
        this conversation and takes the stored agent as it is now."""
        try:
            await self.draft.reload()
        except DraftRefused as exc:
            raise ToolError(exc.message) from None
        return "Reloaded the stored agent:\n" + self.draft.summary()

    async def _change(self, **values: Any) -> str:
        try:
            await self.draft.change(**values)
        except DraftRefused as exc:
            raise ToolError(exc.message) from None
        return self._changed(", ".join(values))

    async def _edit_tools(self, edit: ToolsEdit) -> str:
        try:
            await self.draft.edit_tools(edit)
        except DraftRefused as exc:
            raise ToolError(exc.message) from None
        return self._changed("business actions")

    def _changed(self, done: str) -> str:
        missing = self.draft.missing()
        if self.draft.editing:
            state = "changed; applied to the agent when saved"
        elif self.draft.unsaved and self.draft.fields().get("name"):
            state = (
                "kept, but the database is unreachable right now; it is stored with the next "
                "change or the save"
            )
        elif self.draft.agent is not None:
            state = f"saved in the draft of '{self.draft.agent.name}'"
        else:
            state = "noted (the draft is saved once the agent has a name)"
        still = f" Still needed: {', '.join(missing)}." if missing else " Everything is set."
        return f"{done}: {state}.{still}"


def _secrets_text(secrets: Mapping[str, Sequence[str]]) -> str:
    if not secrets:
        return "none yet"
    return "; ".join(f"{name} (for {', '.join(hosts)})" for name, hosts in sorted(secrets.items()))


def _schema(inputs: list[ToolInput]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            item.name: {"type": item.type, "description": item.description} for item in inputs
        },
        "required": [item.name for item in inputs if item.required],
    }
