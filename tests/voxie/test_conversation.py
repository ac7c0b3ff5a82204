"""Voxie builds an agent by conversation: real AgentSession (scripted model), real Postgres."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from shared.contracts import AgentConfig, AgentPatch, AgentStatus, NewAgent, SecretRef
from shared.contracts.agent_config import MAX_INSTRUCTIONS
from shared.contracts.room_messages import VOXIE_AGENT_SAVED, VOXIE_AGENT_VERSION, VOXIE_DRAFT
from shared.store import NotFound
from shared.store.postgres import PostgresStore
from tests.support.scripted_llm import Reply, ToolCall
from tests.voxie.conftest import RecordingSender
from tests.voxie.conversation import GREETING, call, conversation, tool_outputs
from voxie.draft import Draft

INSTRUCTIONS = (
    "You are Clarence, the front desk of Coherence Dental in Springfield. Open Monday to "
    "Friday, 8 to 5. Book cleanings with book_appointment. You cannot give prices; offer a "
    "call back instead."
)
BOOKING_URL = "https://93.184.216.34/bookings"  # a public address: no DNS needed in tests
# A stored secret's value as the store keeps it (sealed); Voxie reads only names and hosts.
SEALED = "v1.00000000.c2VhbGVk"


async def only_agent(store: PostgresStore, owner: UUID) -> AgentConfig:
    page = await store.list_agents(owner, include_archived=True)
    assert page.total == 1, [a.slug for a in page.items]
    return page.items[0]


async def stored(store: PostgresStore, owner: UUID) -> list[AgentConfig]:
    return (await store.list_agents(owner, include_archived=True)).items


async def existing_agent(store: PostgresStore, owner: UUID, **fields: Any) -> AgentConfig:
    values: dict[str, Any] = {
        "slug": "clarence",
        "name": "Clarence",
        "instructions": INSTRUCTIONS,
        "greeting": "Hello, Coherence Dental.",
        "voice": "cedar",
        "status": AgentStatus.ACTIVE,
        **fields,
    }
    return await store.create_agent(NewAgent(owner_id=owner, **values))


async def editing(
    store: PostgresStore, sender: RecordingSender, owner: UUID, **fields: Any
) -> tuple[AgentConfig, Draft]:
    """An agent of `owner` and an edit-mode draft opened on it."""
    agent = await existing_agent(store, owner, **fields)
    return agent, await Draft.open(store, sender, owner, agent.id)


async def test_a_full_creation_ends_in_one_active_agent_with_exactly_what_was_said(
    store: PostgresStore, owner: UUID, sender: RecordingSender, draft: Draft
) -> None:
    await store.create_secret(owner, "CLINIC_API_TOKEN", ["93.184.216.34"], SEALED)
    async with conversation(draft) as talk:
        result = await talk.say(
            "A receptionist for my dental practice, Coherence Dental.",
            "Lovely. What should the agent be called?",
        )
        result.expect.next_event().is_message(role="assistant")
        assert await stored(store, owner) == []  # nothing to store before it has a name

        result = await talk.say(
            "Call it Clarence.",
            call("set_name", name="Clarence"),
            "Clarence it is. Which voice?",
        )
        result.expect.next_event().is_function_call(name="set_name")
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        mid_way = await only_agent(store, owner)
        assert (mid_way.status, mid_way.name, mid_way.slug) == (
            AgentStatus.DRAFT,
            "Clarence",
            "clarence",
        )

        await talk.say("Cedar, please.", call("set_voice", voice="Cedar"), "Cedar.")
        await talk.say(
            "Say hello like this.",
            call("set_greeting", greeting="Hi, this is Clarence from Coherence Dental."),
            "Got it.",
        )
        await talk.say(
            "It should book cleanings at https://93.184.216.34/bookings",
            call(
                "add_http_tool",
                name="book_appointment",
                description="Book a cleaning once the caller confirmed date and time.",
                url=BOOKING_URL,
                method="POST",
                inputs=[
                    {"name": "start", "type": "string", "description": "ISO date-time"},
                    {"name": "phone", "type": "string", "description": "caller's phone"},
                ],
                secret_name="CLINIC_API_TOKEN",
            ),
            "Added.",
        )
        await talk.say("Sounds right.", call("set_instructions", instructions=INSTRUCTIONS), "Ok.")
        result = await talk.say(
            "Read it back.", call("review_draft"), "Clarence, cedar voice, ... Shall I save?"
        )
        [review] = tool_outputs(result)
        assert "Name: Clarence" in review.output and "cedar" in review.output
        assert "book_appointment" in review.output and "Still missing" not in review.output
        result = await talk.say("Yes, save it.", call("save_agent"), "Saved!")
        [saved_output] = tool_outputs(result)
        assert not saved_output.is_error and "Saved 'Clarence'" in saved_output.output

    agent = await only_agent(store, owner)
    assert agent.id == mid_way.id
    assert agent.owner_id == owner
    assert agent.model_dump(
        include={"status", "name", "slug", "voice", "greeting", "instructions", "language"}
    ) == {
        "status": AgentStatus.ACTIVE,
        "name": "Clarence",
        "slug": "clarence",
        "voice": "cedar",
        "greeting": "Hi, this is Clarence from Coherence Dental.",
        "instructions": INSTRUCTIONS,
        "language": "en",
    }
    [tool] = agent.http_tools
    assert (tool.name, str(tool.url), tool.method) == ("book_appointment", BOOKING_URL, "POST")
    assert tool.parameters["required"] == ["start", "phone"]
    assert tool.headers["Authorization"] == SecretRef(secret="CLINIC_API_TOKEN")

    # The browser saw the draft after every change, then the saved agent.
    drafts = sender.drafts
    assert [sorted(d.fields) for d in drafts[:2]] == [["name", "slug"], ["name", "slug", "voice"]]
    assert [d.missing for d in drafts[:3]] == [
        ["voice", "greeting", "instructions"],
        ["greeting", "instructions"],
        ["instructions"],
    ]
    assert len(drafts) == 6  # name, voice, greeting, tool, instructions, and the saved state
    assert all(d.agent_id == agent.id for d in drafts)
    assert [d.version for d in drafts] == [1, 2, 3, 4, 5, 6]
    assert drafts[-1].status == "active" and drafts[-1].missing == []
    assert [(topic, type(message).__name__) for topic, message in sender.sent[-3:]] == [
        (VOXIE_AGENT_SAVED, "AgentSaved"),
        (VOXIE_DRAFT, "DraftUpdate"),
        (VOXIE_AGENT_VERSION, "LiveVersion"),
    ]
    # The first save activates the agent, which publishes it: version 1 is live.
    assert sender.live[-1].published_version == 1 == agent.published_version
    assert not sender.live[-1].has_unpublished_changes
    [announced] = sender.saved
    assert (announced.agent_id, announced.slug, announced.name) == (
        agent.id,
        "clarence",
        "Clarence",
    )


async def test_voxie_greets_first_and_its_prompt_offers_every_voice(
    store: PostgresStore, owner: UUID, sender: RecordingSender, draft: Draft
) -> None:
    async with conversation(draft) as talk:
        await talk.say("Hi", "Hello!")
        greeting_request = talk.model.requests[0]
        for voice in ("marin", "cedar", "shimmer", "verse"):
            assert f"- {voice}: " in greeting_request.instructions
        assert "set_name" in greeting_request.tool_names
        assert "save_agent" in greeting_request.tool_names
    history = [m.text_content for m in talk.session.history.messages() if m.role == "assistant"]
    assert history[0] == GREETING


async def test_an_unsupported_voice_is_refused_with_the_choices(
    store: PostgresStore, owner: UUID, sender: RecordingSender, draft: Draft
) -> None:
    async with conversation(draft) as talk:
        await talk.tool("set_name", name="Clarence")
        refused = await talk.tool("set_voice", voice="Darth Vader")
        assert refused.is_error
        assert "unsupported voice 'darth vader'" in refused.output
        assert "marin, cedar" in refused.output
    agent = await only_agent(store, owner)
    assert (agent.version, agent.voice) == (1, "marin")  # untouched: still the first write
    assert "voice" in sender.drafts[-1].missing and len(sender.drafts) == 1


async def test_a_taken_slug_is_refused_with_a_free_suggestion_that_then_works(
    store: PostgresStore, owner: UUID, sender: RecordingSender, draft: Draft
) -> None:
    first = await existing_agent(store, owner)
    await existing_agent(store, owner, slug="clarence-2", name="Clarence Two")
    async with conversation(draft) as talk:
        refused = await talk.tool("set_name", name="Clarence")
        assert refused.is_error
        assert "'clarence' is already used" in refused.output
        assert "Suggest 'clarence-3'" in refused.output
        assert len(await stored(store, owner)) == 2 and sender.sent == []

        assert not (await talk.tool("set_slug", slug="Clarence 3")).is_error
        assert len(await stored(store, owner)) == 2  # a slug alone is not a draft yet
        assert not (await talk.tool("set_name", name="Clarence")).is_error
    created = [a for a in await stored(store, owner) if a.id not in (first.id,)]
    assert sorted(a.slug for a in created) == ["clarence-2", "clarence-3"]
    assert (await store.get_agent(first.id)) == first


async def test_an_archived_agents_slug_is_free_again(
    store: PostgresStore, owner: UUID, draft: Draft
) -> None:
    old = await existing_agent(store, owner)
    await store.archive_agent(old.id)
    async with conversation(draft) as talk:
        assert not (await talk.tool("set_name", name="Clarence")).is_error
    assert draft.agent is not None and draft.agent.slug == "clarence"


async def test_saving_before_everything_is_set_and_read_back_is_refused(
    store: PostgresStore, owner: UUID, sender: RecordingSender, draft: Draft
) -> None:
    async with conversation(draft) as talk:
        refused = await talk.tool("save_agent")
        assert refused.is_error
        assert "still missing name, voice, greeting, instructions" in refused.output
        assert await stored(store, owner) == []

        await talk.tool("set_name", name="Clarence")
        await talk.tool("set_voice", voice="ash")
        await talk.tool("set_greeting", greeting="Hi there.")
        refused = await talk.tool("save_agent")
        assert "still missing instructions" in refused.output

        await talk.tool("set_instructions", instructions=INSTRUCTIONS)
        refused = await talk.tool("save_agent")
        assert refused.is_error and "review_draft" in refused.output
        await talk.tool("review_draft")
        await talk.tool("set_greeting", greeting="Hello, Coherence Dental!")  # after the review
        refused = await talk.tool("save_agent")
        assert refused.is_error and "review_draft" in refused.output
        assert (await only_agent(store, owner)).status is AgentStatus.DRAFT

        await talk.tool("review_draft")
        assert not (await talk.tool("save_agent")).is_error
    agent = await only_agent(store, owner)
    assert (agent.status, agent.greeting) == (AgentStatus.ACTIVE, "Hello, Coherence Dental!")
    assert sender.saved and all(t == VOXIE_DRAFT for t, _ in sender.sent[:-3])


async def test_saving_twice_keeps_one_agent(
    store: PostgresStore, owner: UUID, sender: RecordingSender, draft: Draft
) -> None:
    async with conversation(draft) as talk:
        for name, value in [
            ("set_name", "Clarence"),
            ("set_voice", "sage"),
            ("set_greeting", "Hi."),
            ("set_instructions", INSTRUCTIONS),
        ]:
            field = name.removeprefix("set_")
            await talk.tool(name, **{field: value})
        await talk.tool("review_draft")
        first = await talk.tool("save_agent")
        again = await talk.tool("save_agent")
        assert not again.is_error and "already saved" in again.output
        assert "Saved 'Clarence'" in first.output
        # The same in one turn, as a model might do it.
        result = await talk.say("save!", call("save_agent"), call("save_agent"), "Done.")
        assert all(not output.is_error for output in tool_outputs(result))
    agent = await only_agent(store, owner)
    assert (agent.status, agent.version) == (AgentStatus.ACTIVE, 5)
    assert len(sender.saved) == 1


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", "   ", "at least 1 character"),
        ("name", "x" * 81, "at most 80 characters"),
        ("greeting", "g" * 1001, "at most 1000 characters"),
        ("instructions", "i" * (MAX_INSTRUCTIONS + 1), "at most 20000 characters"),
        ("language", "English", "should match pattern"),
    ],
)
async def test_empty_or_oversized_text_is_refused_and_nothing_is_stored(
    store: PostgresStore,
    owner: UUID,
    sender: RecordingSender,
    field: str,
    value: str,
    expected: str,
    draft: Draft,
) -> None:
    async with conversation(draft) as talk:
        if field != "name":
            await talk.tool("set_name", name="Clarence")
        refused = await talk.tool(f"set_{field}", **{field: value})
    assert refused.is_error and expected in refused.output, refused.output
    rows = await stored(store, owner)
    assert all(getattr(row, field) != value for row in rows)
    assert all(row.version == 1 for row in rows)


async def test_a_name_without_letters_is_refused(
    store: PostgresStore, owner: UUID, sender: RecordingSender, draft: Draft
) -> None:
    async with conversation(draft) as talk:
        refused = await talk.tool("set_name", name="!!!")
    assert refused.is_error and "at least one letter or digit" in refused.output
    assert await stored(store, owner) == []


async def public(host: str, port: int) -> list[str]:
    return {"clinic.example": ["93.184.216.34"], "sneaky.example": ["10.1.2.3"]}[host]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/admin", "internal address (127.0.0.1)"),
        ("http://localhost/x", "'localhost' is an internal address"),
        ("http://169.254.169.254/latest/meta-data", "internal address (169.254.169.254)"),
        ("https://10.0.0.5/book", "internal address (10.0.0.5)"),
        ("https://[::1]/book", "internal address (::1)"),
        ("https://sneaky.example/book", "'sneaky.example' is an internal address (10.1.2.3)"),
        ("not a url", "valid URL"),
        ("ftp://93.184.216.34/file", "URL scheme should be 'http' or 'https'"),
    ],
)
async def test_internal_or_malformed_tool_urls_are_refused(
    store: PostgresStore, owner: UUID, url: str, expected: str, draft: Draft
) -> None:

    async def resolve(host: str, port: int) -> list[str]:
        if host == "localhost":
            return ["127.0.0.1", "::1"]
        return await public(host, port)

    async with conversation(draft, resolve=resolve) as talk:
        await talk.tool("set_name", name="Clarence")
        refused = await talk.tool(
            "add_http_tool", name="book", description="Books.", url=url, method="POST"
        )
        assert refused.is_error and expected in refused.output, refused.output
        assert "not added" in refused.output
        accepted = await talk.tool(
            "add_http_tool", name="book", description="Books.", url="https://clinic.example/b"
        )
        assert not accepted.is_error
    [tool] = (await only_agent(store, owner)).http_tools
    assert str(tool.url) == "https://clinic.example/b"


async def test_an_allowlisted_internal_network_is_accepted(
    store: PostgresStore, owner: UUID, sender: RecordingSender, draft: Draft
) -> None:
    async with conversation(draft, allowlist=["10.1.0.0/16"]) as talk:
        await talk.tool("set_name", name="Clarence")
        ok = await talk.tool(
            "add_http_tool", name="crm", description="CRM.", url="http://10.1.4.2/x"
        )
        refused = await talk.tool(
            "add_http_tool", name="db", description="DB.", url="http://10.2.0.1/"
        )
    assert not ok.is_error and refused.is_error
    assert [t.name for t in (await only_agent(store, owner)).http_tools] == ["crm"]


async def test_tools_are_replaced_by_name_and_removed(
    store: PostgresStore, owner: UUID, sender: RecordingSender, draft: Draft
) -> None:
    async with conversation(draft) as talk:
        await talk.tool("set_name", name="Clarence")
        await talk.tool("add_http_tool", name="book", description="v1", url=BOOKING_URL)
        await talk.tool(
            "add_http_tool", name="check", description="c", url=BOOKING_URL, method="GET"
        )
        await talk.tool("add_http_tool", name="book", description="v2", url=BOOKING_URL)
        missing = await talk.tool("remove_http_tool", name="cancel")
        assert missing.is_error and "the actions are: check, book" in missing.output
        assert not (await talk.tool("remove_http_tool", name="check")).is_error
    [tool] = (await only_agent(store, owner)).http_tools
    assert (tool.name, tool.description) == ("book", "v2")


# --- edit mode -----------------------------------------------------------------------------------


async def test_edit_mode_changes_only_what_was_asked(
    store: PostgresStore, owner: UUID, sender: RecordingSender
) -> None:
    before, draft = await editing(store, sender, owner)
    async with conversation(draft) as talk:
        prompt = talk.model.requests[0].instructions
        assert "You are editing an existing agent" in prompt and "Name: Clarence" in prompt
        await talk.tool("set_greeting", greeting="Good morning, Coherence Dental!")
        # The running agent keeps its config until the user confirms.
        assert await store.get_agent(before.id) == before
        review = await talk.tool("review_draft")
        assert "Changed but not saved yet: greeting" in review.output
        assert not (await talk.tool("save_agent")).is_error

    after = await only_agent(store, owner)
    assert after.id == before.id and after.version == before.version + 1
    assert after.greeting == "Good morning, Coherence Dental!"
    unchanged = set(NewAgent.model_fields) - {"greeting", "owner_id"}
    assert after.model_dump(include=unchanged) == before.model_dump(include=unchanged)
    [announced] = sender.saved
    assert announced.agent_id == before.id


async def test_edit_mode_reports_a_concurrent_edit_instead_of_overwriting_it(
    store: PostgresStore, owner: UUID, sender: RecordingSender
) -> None:
    before, draft = await editing(store, sender, owner)
    async with conversation(draft) as talk:
        await talk.tool("set_voice", voice="verse")
        # Meanwhile the user changes the same agent from the dashboard.
        elsewhere = await store.update_agent(
            before.id, AgentPatch(greeting="Changed on the dashboard."), expected_version=1
        )
        await talk.tool("review_draft")
        refused = await talk.tool("save_agent")
        assert refused.is_error
        assert "changed elsewhere" in refused.output and "version 2" in refused.output
        assert await store.get_agent(before.id) == elsewhere
        assert sender.saved == []

        reloaded = await talk.tool("reload_agent")
        assert "Changed on the dashboard." in reloaded.output
        assert "Voice: cedar" in reloaded.output  # the unsaved "verse" is gone
        await talk.tool("set_voice", voice="verse")
        await talk.tool("review_draft")
        assert not (await talk.tool("save_agent")).is_error
    after = await store.get_agent(before.id)
    assert (after.voice, after.greeting, after.version) == ("verse", "Changed on the dashboard.", 3)


async def test_edit_mode_refuses_a_slug_the_owner_already_uses(
    store: PostgresStore, owner: UUID, sender: RecordingSender
) -> None:
    await existing_agent(store, owner, slug="farah", name="Farah")
    agent, draft = await editing(store, sender, owner)
    async with conversation(draft) as talk:
        refused = await talk.tool("set_slug", slug="farah")
    assert refused.is_error and "Suggest 'farah-2'" in refused.output
    assert await store.get_agent(agent.id) == agent


async def test_edit_mode_opens_only_the_callers_live_agents(
    store: PostgresStore, owner: UUID, sender: RecordingSender
) -> None:
    theirs = await existing_agent(store, UUID(int=owner.int ^ 1))
    with pytest.raises(NotFound):
        await Draft.open(store, sender, owner, theirs.id)
    archived = await existing_agent(store, owner)
    await store.archive_agent(archived.id)
    with pytest.raises(NotFound, match="archived"):
        await Draft.open(store, sender, owner, archived.id)


async def test_a_resumed_draft_is_written_through_and_saved(
    store: PostgresStore, owner: UUID, sender: RecordingSender
) -> None:
    """A dropped creation session left a draft; a new session opened on it finishes it."""
    left, draft = await editing(store, sender, owner, status=AgentStatus.DRAFT, greeting="")
    async with conversation(draft) as talk:
        await talk.tool("set_greeting", greeting="Hi!")
        assert (await store.get_agent(left.id)).greeting == "Hi!"
        await talk.tool("review_draft")
        assert not (await talk.tool("save_agent")).is_error
    agent = await only_agent(store, owner)
    assert (agent.status, agent.greeting, agent.version) == (AgentStatus.ACTIVE, "Hi!", 3)


async def test_actions_added_in_one_turn_are_all_kept(
    store: PostgresStore, owner: UUID, draft: Draft
) -> None:
    names = ["book", "cancel", "check", "move"]
    async with conversation(draft) as talk:
        await talk.tool("set_name", name="Clarence")
        calls = [
            ToolCall("add_http_tool", {"name": n, "description": n, "url": BOOKING_URL})
            for n in names
        ]
        result = await talk.say("Add all four.", Reply(calls=calls), "Added.")
        assert [o.is_error for o in tool_outputs(result)] == [False] * 4
    stored_names = [t.name for t in (await only_agent(store, owner)).http_tools]
    assert sorted(stored_names) == sorted(names)


# --- versions ------------------------------------------------------------------------------------


async def test_an_edit_is_saved_to_the_draft_and_published_when_the_user_says_so(
    store: PostgresStore, owner: UUID, sender: RecordingSender
) -> None:
    before, draft = await editing(store, sender, owner)
    assert before.published_version == 1
    async with conversation(draft) as talk:
        refused = await talk.tool("publish_agent")
        assert refused.is_error and "nothing to publish" in refused.output
        await talk.tool("set_greeting", greeting="Good morning, Coherence Dental!")
        early = await talk.tool("publish_agent")
        assert early.is_error and "not saved yet: greeting" in early.output
        await talk.tool("review_draft")
        saved = await talk.tool("save_agent")
        assert "Calls still run version 1" in saved.output and "publish_agent" in saved.output
        # Saved to the draft only: calls still run version 1, and the browser is told so.
        stored_agent = await store.get_agent(before.id)
        assert stored_agent.greeting == "Good morning, Coherence Dental!"
        assert stored_agent.published_version == 1 and stored_agent.has_unpublished_changes
        assert sender.live[-1].published_version == 1
        assert sender.live[-1].has_unpublished_changes

        published = await talk.tool("publish_agent", note="morning greeting")
        assert not published.is_error and "Published version 2" in published.output
    version = await store.get_version(before.id, 2)
    assert version.note == "morning greeting" and version.published_by == f"user:{owner}"
    assert version.config.greeting == "Good morning, Coherence Dental!"
    assert (await store.get_agent(before.id)).published_version == 2
    assert sender.live[-1].model_dump() == {
        "agent_id": before.id,
        "published_version": 2,
        "has_unpublished_changes": False,
    }


async def test_a_tool_may_use_only_the_owners_secrets_bound_to_its_host(
    store: PostgresStore, owner: UUID, draft: Draft
) -> None:
    other = UUID("0ab00000-0000-4000-8000-000000000999")
    await store.create_secret(owner, "CLINIC_API_TOKEN", ["93.184.216.34"], SEALED)
    await store.create_secret(other, "OPERATOR_TOKEN", ["93.184.216.34"], SEALED)
    async with conversation(draft) as talk:
        await talk.tool("set_name", name="Clarence")
        listed = await talk.tool("list_secrets")
        foreign = await talk.tool(
            "add_http_tool",
            name="book",
            description="Book.",
            url=BOOKING_URL,
            secret_name="OPERATOR_TOKEN",
        )
        elsewhere = await talk.tool(
            "add_http_tool",
            name="book",
            description="Book.",
            url="https://93.184.216.35/bookings",
            secret_name="CLINIC_API_TOKEN",
        )
        ok = await talk.tool(
            "add_http_tool",
            name="book",
            description="Book.",
            url=BOOKING_URL,
            secret_name="CLINIC_API_TOKEN",
        )
    assert "CLINIC_API_TOKEN (for 93.184.216.34)" in listed.output
    assert "OPERATOR_TOKEN" not in listed.output
    assert foreign.is_error and "no secret 'OPERATOR_TOKEN'" in foreign.output
    assert "CLINIC_API_TOKEN (for 93.184.216.34)" in foreign.output  # what the user can pick
    assert elsewhere.is_error and "may only be sent to 93.184.216.34" in elsewhere.output
    assert not ok.is_error
    [tool] = (await only_agent(store, owner)).http_tools
    assert tool.headers == {"Authorization": SecretRef(secret="CLINIC_API_TOKEN")}
