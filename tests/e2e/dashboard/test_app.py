"""The dashboard in a real browser against the real platform (issue 15): sign in with one click,
create an agent by talking to Voxie while the draft card fills in, test it with one click and
hear it answer a spoken turn, find the call with its transcript; the agent page's validation
errors; an archived agent's refused test; the capacity refusal's countdown; the operator's live
room in its grace period, closed by hand; no dev sign-in where it must not exist; versions;
the call history filtered by kind on the server, paged with "Load more", its agent filter a
search of every agent, each call named by its agent; and tool secrets (issue 21), added on their
page and never shown again, bound to their hosts on the agent page, and deleted; and an agent
made with the New agent form (issue 22), its draft tested before it is published; and a call's
token figures stacked on a phone (issue 22).

Every page visited is checked the same way (browser.Visit.check): no console errors, no
serious or critical axe-core violations, screenshots at desktop and phone width in
.test-artifacts/dashboard/, no sideways scrolling at phone width.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, Route, expect

from shared.contracts import CallTurn
from shared.contracts.dispatch import DEV_USER_ID
from shared.store.postgres import PostgresStore
from tests.e2e.dashboard.browser import PHONE, Visit, chromium, microphone_wav
from tests.e2e.dashboard.conftest import Dashboard
from tests.e2e.support import eventually, healthy
from tests.support.openai import ToolCall, Turn
from voxiectl.livekit_local import free_port

pytestmark = pytest.mark.timeout(420)

VOXIE_HELLO = "Hi, I'm Voxie. What will your agent do?"
GREETING = "Thanks for calling Clarence Dental, how can I help?"
INSTRUCTIONS = "You are Clarence, the front desk of Clarence Dental. You book cleanings."
# Each step: what the person types to Voxie, the tool Voxie's model calls, what Voxie then
# says, and the draft card's field that fills in (with the text it shows).
STEPS: list[tuple[str, ToolCall, str, str | None, str | None]] = [
    (
        "Call the agent Clarence Dental.",
        ToolCall("set_name", {"name": "Clarence Dental"}),
        "I named it Clarence Dental.",
        "name",
        "Clarence Dental",
    ),
    (
        "Give it the cedar voice.",
        ToolCall("set_voice", {"voice": "cedar"}),
        "It has the cedar voice now.",
        "voice",
        "cedar",
    ),
    (
        f"Greet callers with: {GREETING}",
        ToolCall("set_greeting", {"greeting": GREETING}),
        "The greeting is set.",
        "greeting",
        GREETING,
    ),
    (
        "It books cleanings for the practice.",
        ToolCall("set_instructions", {"instructions": INSTRUCTIONS}),
        "The instructions are set.",
        "instructions",
        INSTRUCTIONS,
    ),
    ("Read it back to me.", ToolCall("review_draft", {}), "Here is your agent.", None, None),
    ("Yes, save it.", ToolCall("save_agent", {}), "Your agent is saved.", None, None),
]
QUESTION = "Do you have a cleaning slot tomorrow?"
ANSWER = "Yes, we have a cleaning at ten tomorrow."
# The fake microphone's file starts with the call: silence while the agent joins and greets,
# then the caller's question.
SPEECH_LEAD_S = 20.0
REFUSED_LOAD = r"Failed to load resource: the server responded with a status of {}"


@asynccontextmanager
async def browsing(
    dashboard: Dashboard, name: str, *, says: str | None = None
) -> AsyncIterator[tuple[Browser, Visit]]:
    """A browser whose microphone says `says` (after SPEECH_LEAD_S) or nothing, and a tab."""
    lead = SPEECH_LEAD_S if says else 1.0
    wav = microphone_wav(dashboard.directory / f"{name}.wav", says, lead_s=lead)
    async with chromium(dashboard.pw, wav) as browser:
        visit = await Visit.open(browser, dashboard.url, name)
        try:
            yield browser, visit
        except BaseException:
            await visit.failed()
            raise
        finally:
            await visit.close()


async def sign_in(visit: Visit, as_who: str = "dev user") -> None:
    await visit.goto("/")
    await expect(visit.page.get_by_role("heading", name="Sign in")).to_be_visible()
    await visit.page.get_by_role("button", name=f"Sign in as {as_who}").click()
    await expect(visit.page.get_by_role("navigation", name="Main")).to_be_visible()
    # Signed in on `#/`, the app then redirects to `#/agents`: a test's next `goto` (a hash
    # change, the same document) made before that redirect is overwritten by it.
    await expect(visit.page).to_have_url(re.compile(r"#/agents$"))


async def agent_state(page: Page, state: str, timeout_s: float = 90) -> None:
    await expect(page.locator(".call-state")).to_have_attribute(
        "data-state", state, timeout=timeout_s * 1000
    )


def transcript(page: Page) -> Any:
    return page.get_by_role("log")


async def api_token(dashboard: Dashboard, as_who: str) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{dashboard.url}/api/dev/sign-in", json={"as": as_who})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def api_get(dashboard: Dashboard, path: str, as_who: str = "user") -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(
            f"{dashboard.url}{path}", headers=await api_token(dashboard, as_who)
        )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def record_calls(dashboard: Dashboard, agent: dict[str, Any], insert: str) -> None:
    """Calls of `agent` recorded as the platform records them, without LiveKit: `insert` writes
    call_sessions rows with the agent's id as $1 and its owner as $2."""
    conn = await asyncpg.connect(dashboard.database_url)
    try:
        await conn.execute(insert, uuid.UUID(agent["id"]), uuid.UUID(agent["owner_id"]))
    finally:
        await conn.close()


async def create_agent(dashboard: Dashboard, as_who: str, **fields: Any) -> dict[str, Any]:
    body = {
        "slug": fields.pop("slug"),
        "name": fields.pop("name"),
        "instructions": INSTRUCTIONS,
        "greeting": GREETING,
        "voice": "cedar",
        "status": "active",
        **fields,
    }
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{dashboard.url}/api/agents", json=body, headers=await api_token(dashboard, as_who)
        )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def archive_all_agents(dashboard: Dashboard, as_who: str) -> None:
    """Every agent of the account archived (through the API: the page is not under test here)."""
    headers = await api_token(dashboard, as_who)
    async with httpx.AsyncClient(timeout=10) as http:
        listed = await http.get(f"{dashboard.url}/api/agents?limit=200", headers=headers)
        assert listed.status_code == 200, listed.text
        for agent in listed.json()["items"]:
            url = f"{dashboard.url}/api/agents/{agent['id']}"
            archived = await http.delete(url, headers=headers)
            assert archived.status_code == 200, archived.text


async def no_agent_rooms(dashboard: Dashboard) -> None:
    """Every agent room of an earlier test is gone (the platform holds one at a time)."""

    async def none_left() -> bool:
        async with httpx.AsyncClient(timeout=10) as http:
            rooms = await http.get(
                f"{dashboard.url}/api/rooms", headers=await api_token(dashboard, "operator")
            )
        return not [r for r in rooms.json()["items"] if r["kind"] == "agent"]

    await eventually(none_left, what="the earlier agent rooms to close", within=120)


# --- 1. sign in, create with Voxie, test, see the call -------------------------------------------


async def test_create_an_agent_with_voxie_test_it_and_see_the_call(dashboard: Dashboard) -> None:
    double = dashboard.double
    double.reset()
    double.script(VOXIE_HELLO)
    for _, call, reply, _, _ in STEPS:
        double.script(Turn(calls=[call]), reply)

    async with browsing(dashboard, "create") as (_, visit):
        page = visit.page
        await visit.goto("/")
        await expect(page.get_by_role("button", name="Sign in as dev user")).to_be_visible()
        await visit.check("sign-in")
        await sign_in(visit)

        # No agents yet: the empty state leads to Voxie.
        await expect(page.get_by_role("heading", name="No agents yet")).to_be_visible()
        await visit.check("agents-empty")
        await page.get_by_role("link", name="Create your first agent").click()
        await expect(page.get_by_role("heading", name="Create an agent with Voxie")).to_be_visible()
        await visit.check("voxie-idle")

        await page.get_by_role("button", name="Start talking to Voxie").click()
        await expect(transcript(page)).to_contain_text(VOXIE_HELLO, timeout=90_000)
        chat = page.get_by_label("Type to Voxie")
        for line, _, reply, field, shown in STEPS:
            await agent_state(page, "listening")
            await chat.fill(line)
            await page.get_by_role("button", name="Send").click()
            await expect(transcript(page)).to_contain_text(reply, timeout=60_000)
            if field is not None:
                # The draft card fills in field by field, the field just changed marked.
                card = page.locator(f'.draft [data-field="{field}"]')
                await expect(card).to_contain_text(shown or "")
                await expect(card).to_have_attribute("data-changed", "true")
                await expect(card).to_contain_text("Just updated")
            if field == "voice":
                await visit.check("voxie-drafting")
        await expect(page.get_by_text("Saved.", exact=True)).to_be_visible()
        await expect(page.get_by_role("link", name="Test it now")).to_be_visible()
        # voxie.agent_version: saving an active agent published version 1, which calls run.
        await expect(page.locator(".draft").get_by_text("Live version v1")).to_be_visible()
        await visit.check("voxie-saved")

        # The agent is listed; leaving the page ends the Voxie session.
        await page.get_by_role("link", name="Agents", exact=True).click()
        row = page.get_by_role("row", name=re.compile("Clarence Dental"))
        await expect(row).to_be_visible()
        await expect(row).to_contain_text("cedar")
        await expect(row).to_contain_text("Active")
        await expect(row.get_by_role("cell").nth(3)).to_have_text("0")  # calls in 7 days
        await visit.check("agents-listed")

    # A second browser, whose microphone asks the question once the agent has greeted; the one
    # agent place must be free (another module's call may still be in its grace period).
    await no_agent_rooms(dashboard)
    double.reset()
    double.script(GREETING, ANSWER)
    double.hear(QUESTION)
    async with browsing(dashboard, "test-call", says=QUESTION) as (_, visit):
        page = visit.page
        await sign_in(visit)
        await page.get_by_role("button", name="Test Clarence Dental").click()
        await expect(page.get_by_role("heading", name="Test Clarence Dental")).to_be_visible()
        await expect(page.get_by_text("Running version 1")).to_be_visible()  # the spawn's answer
        await expect(transcript(page)).to_contain_text(GREETING, timeout=90_000)
        await agent_state(page, "listening")
        await visit.check("test-call-greeted")
        await expect(transcript(page)).to_contain_text(ANSWER, timeout=90_000)
        await expect(transcript(page)).to_contain_text(QUESTION)
        await visit.check("test-call-answered")
        await page.get_by_role("button", name="End call").click()
        await expect(page.get_by_text("You ended the call.")).to_be_visible()
        await visit.check("test-call-ended")

        # The call is recorded once its grace period ran out: listed, with its transcript.
        await page.get_by_role("link", name="See it in Calls").click()
        await expect(page.get_by_role("heading", name="Calls")).to_be_visible()

        async def recorded() -> bool:
            await page.reload()
            rows = page.get_by_role("row").filter(
                has=page.get_by_role("link", name=re.compile("View call"))
            )
            await expect(rows.first).to_be_visible()
            shown = await rows.first.inner_text()
            return "In progress" not in shown and "Ending" not in shown

        await eventually(recorded, what="the call to be recorded", within=150)
        await visit.check("calls")
        # Filtered by its kind on the server, the call stays listed; by another, it is not.
        await page.get_by_label("Kind").select_option(label="Live call")
        await expect(page.get_by_text("No calls match these filters")).to_be_visible()
        await page.get_by_label("Kind").select_option(label="Test call")
        await expect(page.get_by_text("Showing 1 of 1 call", exact=True)).to_be_visible()
        await page.get_by_role("link", name=re.compile("View call")).first.click()
        conversation = page.locator(".conversation")
        await expect(conversation).to_contain_text(GREETING)
        await expect(conversation).to_contain_text(QUESTION)
        await expect(conversation).to_contain_text(ANSWER)
        await visit.check("call-detail")
    double.assert_consumed()


# --- 2. the agent page: validation errors; an archived agent cannot be tested --------------------


async def test_a_bad_value_is_shown_on_its_field_and_an_archived_agent_cannot_be_tested(
    dashboard: Dashboard,
) -> None:
    await create_agent(dashboard, "user", slug="molar-mike", name="Molar Mike")
    await create_agent(dashboard, "user", slug="bicuspid-bea", name="Bicuspid Bea")
    async with browsing(dashboard, "agent-page") as (_, visit):
        page = visit.page
        await sign_in(visit)
        await page.get_by_role("link", name="Molar Mike", exact=True).click()
        await expect(page.get_by_role("heading", name=re.compile("Molar Mike"))).to_be_visible()
        await visit.check("agent-page")

        await page.get_by_role("button", name="Edit", exact=True).click()
        await page.get_by_label("Slug").fill("Molar Mike")
        visit.allow(REFUSED_LOAD.format(422))
        await page.get_by_role("button", name="Save changes").click()
        slug = page.get_by_label("Slug")
        await expect(slug).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#edit-slug-error")).to_contain_text("did you mean 'molar-mike'")
        await visit.check("agent-edit-invalid")
        await page.get_by_role("button", name="Cancel").click()

        await page.get_by_role("button", name="Archive").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_be_visible()
        await visit.check("agent-archive-confirm")
        await dialog.get_by_role("button", name="Archive").click()

        # With every agent archived the page invites a new one, and the archived stay reachable.
        await archive_all_agents(dashboard, "user")
        await visit.goto("/agents")
        await page.reload()  # the archive left the page on /agents: load the list afresh
        await expect(page.get_by_role("heading", name="No agents yet")).to_be_visible()
        await page.get_by_label("Show archived").check()
        # Only the operator's list names owners.
        await expect(page.get_by_role("button", name="Test Molar Mike")).to_be_visible()
        await expect(page.get_by_role("columnheader", name="Owner")).to_have_count(0)
        visit.allow(REFUSED_LOAD.format(404))  # the archived agent's page
        visit.allow(REFUSED_LOAD.format(409))  # its refused spawn
        await page.get_by_role("button", name="Test Molar Mike").click()
        await expect(page.get_by_role("alert")).to_contain_text("archived")
        # The refusal alone: no call panel, and nothing offered that would meet it again.
        await expect(transcript(page)).to_have_count(0)
        for offer in ("Call again", "Try again", "Start test call"):
            await expect(page.get_by_role("button", name=offer)).to_have_count(0)
        await visit.check("test-archived")


# --- 3. operator: capacity, the grace countdown, closing a room ----------------------------------


async def test_the_operator_sees_the_grace_countdown_and_closes_the_room(
    dashboard: Dashboard,
) -> None:
    await no_agent_rooms(dashboard)
    # The operator's agents outlive the module (another run on the same database keeps them).
    slug = f"grace-gary-{uuid.uuid4().hex[:8]}"
    agent = await create_agent(dashboard, "operator", slug=slug, name="Grace Gary")
    dashboard.double.reset()
    dashboard.double.script(GREETING)
    async with browsing(dashboard, "operator") as (_, visit):
        page = visit.page
        await sign_in(visit, "operator")
        await expect(page.get_by_role("columnheader", name="Owner")).to_be_visible()
        await visit.check("agents-operator")
        await page.get_by_label("Search agents").fill(slug)
        # The agents the operator made are "You", like a user's own, not a nil id.
        await expect(page.locator('td[data-label="Owner"]')).to_have_text(["You"])
        await page.get_by_role("button", name="Test Grace Gary").click()
        await expect(transcript(page)).to_contain_text(GREETING, timeout=90_000)
        # Leaving the page drops the call (End call would hang up and close the room): the
        # agent waits out its grace period in case the caller comes back.
        nav = page.get_by_role("navigation", name="Main")
        await nav.get_by_role("link", name="Agents", exact=True).click()
        await page.get_by_label("Search agents").fill(slug)

        # Its room holds the only agent place meanwhile: a second test call is refused, with
        # the Retry-After as a countdown.
        visit.allow(REFUSED_LOAD.format(429))
        await page.get_by_role("button", name="Test Grace Gary").click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("agent place")
        await expect(page.get_by_test_id("retry-countdown")).to_contain_text("Try again in")
        await expect(alert.get_by_role("button", name="Try again")).to_be_visible()
        await expect(transcript(page)).to_have_count(0)  # a refusal, not a failed call
        await visit.check("test-at-capacity")

        await page.get_by_role("link", name="Operations").click()
        room = page.locator("tr[data-room]").filter(has_text=agent["id"][:8])
        await expect(room).to_contain_text("grace", timeout=30_000)
        await expect(room).to_contain_text("closes in")
        await expect(room).to_contain_text("Grace Gary")  # named by the API, not a list
        await visit.check("operations-grace")
        await room.get_by_role("button", name=re.compile("Close room")).click()
        await page.get_by_role("dialog").get_by_role("button", name="Close room").click()
        await expect(page.get_by_text("was closed")).to_be_visible()
        await expect(room).to_have_count(0, timeout=30_000)
        await visit.check("operations-closed")


# --- 3b. End call: one end reason, shown at once; people named, rooms gone (issue 22) -------------


async def newest_call(dashboard: Dashboard, query: str) -> dict[str, Any] | None:
    found = (await api_get(dashboard, f"/api/sessions?{query}&limit=1"))["items"]
    return found[0] if found else None


async def test_end_call_hangs_up_with_one_reason_and_the_calls_page_shows_it_at_once(
    dashboard: Dashboard,
) -> None:
    await no_agent_rooms(dashboard)
    slug = f"end-erin-{uuid.uuid4().hex[:8]}"
    agent = await create_agent(dashboard, "user", slug=slug, name="End Erin")
    dashboard.double.reset()
    dashboard.double.script(GREETING)
    async with browsing(dashboard, "end-call") as (browser, visit):
        page = visit.page
        await sign_in(visit)
        await page.get_by_label("Search agents").fill(slug)
        await page.get_by_role("button", name="Test End Erin").click()
        await expect(transcript(page)).to_contain_text(GREETING, timeout=90_000)

        # The operator's live rooms name the caller as the dashboard names people, never by a
        # raw user id.
        operator = await Visit.open(browser, dashboard.url, "end-call-operator")
        try:
            await sign_in(operator, "operator")
            await operator.page.get_by_role("link", name="Operations").click()
            room = operator.page.locator("tr[data-room]").filter(has_text="End Erin")
            await expect(room.locator('td[data-label="Humans"]')).to_have_text("the owner")
            await expect(room).not_to_contain_text("user:")
            await operator.check("operations-humans")

            await page.get_by_role("button", name="End call").click()
            await expect(page.get_by_text("You ended the call.")).to_be_visible()
            # Hung up, not dropped: no grace period to wait out, the room and its place are
            # gone by the page's next refresh.
            await expect(room).to_have_count(0, timeout=15_000)
            await operator.check("operations-after-end")
        finally:
            await operator.close()

        # At once on the Calls page: ending (its summary still being written) or ended, never
        # "In progress".
        await page.get_by_role("link", name="See it in Calls").click()
        row = (
            page.get_by_role("row")
            .filter(has=page.get_by_role("link", name=re.compile("View call")))
            .first
        )
        await expect(row).to_contain_text(re.compile("Ending…|Caller hung up"))
        await expect(row).not_to_contain_text("In progress")
        await visit.check("calls-ending")

        async def hung_up() -> bool:
            call = await newest_call(dashboard, f"agent_id={agent['id']}")
            return call is not None and call["end_reason"] == "user_hangup"

        await eventually(hung_up, what="the test call to end as user_hangup", within=60)
        await page.reload()
        await expect(row).to_contain_text("Caller hung up")
        await visit.check("calls-hung-up")

    # Voxie: the same button, the same end reason.
    dashboard.double.reset()
    dashboard.double.script(VOXIE_HELLO)
    async with browsing(dashboard, "end-voxie") as (_, visit):
        page = visit.page
        await sign_in(visit)
        await visit.goto("/voxie")
        await page.get_by_role(
            "button", name=re.compile("talk(ing)? to voxie", re.IGNORECASE)
        ).click()
        await expect(transcript(page)).to_contain_text(VOXIE_HELLO, timeout=90_000)
        await page.get_by_role("button", name="End call").click()
        await expect(page.get_by_role("status", name="Agent state")).to_contain_text("Call ended")
        await visit.check("voxie-ended")

    async def voxie_hung_up() -> bool:
        call = await newest_call(dashboard, "kind=creation")
        return call is not None and call["end_reason"] == "user_hangup"

    await eventually(voxie_hung_up, what="the Voxie session to end as user_hangup", within=60)


# --- 4. no dev sign-in where it must not exist ---------------------------------------------------


@pytest.mark.parametrize(
    ("label", "env"),
    [
        ("platform-env-test", {"PLATFORM_ENV": "test"}),
        ("all-interfaces", {"PLATFORM_ENV": "dev", "BACKEND_HOST": "0.0.0.0"}),  # noqa: S104
    ],
)
async def test_dev_sign_in_is_refused_outside_dev_on_loopback(
    dashboard: Dashboard, label: str, env: dict[str, str]
) -> None:
    port = free_port()
    backend = dashboard.platform.start(
        ["-m", "backend"], f"backend-{label}", BACKEND_PORT=str(port), **env
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=10) as http:
        await healthy(http, base, backend)
    wav = microphone_wav(dashboard.directory / f"{label}.wav", None, lead_s=1.0)
    async with chromium(dashboard.pw, wav) as browser:
        visit = await Visit.open(browser, base, f"sign-in-{label}")
        page = visit.page
        await visit.goto("/")
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await expect(page.get_by_role("button", name="Sign in as dev user")).to_have_count(0)
        visit.allow(REFUSED_LOAD.format(404))
        status = await page.evaluate(
            """() => fetch('/api/dev/sign-in', {method: 'POST',
                   headers: {'Content-Type': 'application/json'}, body: '{"as": "user"}'})
                 .then(r => r.status)"""
        )
        assert status == 404
        await visit.check("refused")
        await visit.close()
    backend.stop()


# --- 5. versions: unpublished changes, publish with a note, diff, roll back, analytics ---------

NEW_GREETING = "Hello from Vera's friendlier front desk!"


async def test_publish_diff_and_roll_back_a_version_and_see_its_analytics(
    dashboard: Dashboard,
) -> None:
    agent = await create_agent(dashboard, "user", slug="versioned-vera", name="Versioned Vera")
    assert agent["published_version"] == 1  # activating published version 1
    async with httpx.AsyncClient(timeout=10) as http:
        edited = await http.patch(
            f"{dashboard.url}/api/agents/{agent['id']}",
            json={"greeting": NEW_GREETING, "version": agent["version"]},
            headers=await api_token(dashboard, "user"),
        )
    assert edited.status_code == 200, edited.text
    # Calls of version 1 for the analytics: three an hour ago, one 20 days ago (in the last 30
    # days, not in the last 7).
    await record_calls(
        dashboard,
        agent,
        """insert into public.call_sessions (agent_id, owner_id, room_name, kind, deployment,
               status, started_at, ended_at, end_reason, agent_version)
           select $1, $2, 'vera-' || n, 'test', 'dev', s, now() - age,
                  now() - age + make_interval(secs => 60 * n), r, 1
           from (values (1, 'ended', 'user_hangup', interval '1 hour'),
                        (2, 'ended', 'end_call', interval '1 hour'),
                        (3, 'failed', 'error', interval '1 hour'),
                        (4, 'ended', 'user_hangup', interval '20 days'))
                as calls(n, s, r, age)""",
    )

    async with browsing(dashboard, "versions") as (_, visit):
        page = visit.page
        await sign_in(visit)
        row = page.get_by_role("row", name=re.compile("Versioned Vera"))
        await expect(row).to_contain_text("Unpublished changes")
        await expect(row).to_contain_text("v1 live")
        await visit.check("agents-unpublished")

        await row.get_by_role("link", name="Versioned Vera", exact=True).click()
        versions = page.get_by_role("region", name="Versions")
        await expect(versions.get_by_text("Unpublished changes")).to_be_visible()
        await versions.get_by_label("Note for this version").fill("friendlier greeting")
        await versions.get_by_role("button", name="Publish draft").click()
        await expect(versions.get_by_text("Published version 2")).to_be_visible()
        v2 = versions.locator('tr[data-version="2"]')
        await expect(v2).to_have_attribute("data-live", "true")
        await expect(v2).to_contain_text("friendlier greeting")
        await expect(versions.get_by_text("Live version v2")).to_be_visible()
        await expect(versions.get_by_text("Unpublished changes")).to_have_count(0)

        await versions.get_by_label("Compare").select_option("1")
        await versions.get_by_label("with", exact=True).select_option("2")
        changed = versions.locator('.diff-table tr[data-field="greeting"]')
        await expect(changed.locator(".diff-before")).to_have_text(GREETING)
        await expect(changed.locator(".diff-after")).to_have_text(NEW_GREETING)
        await expect(versions.locator(".diff-table tbody tr")).to_have_count(1)
        await visit.check("versions-published-diff")

        await versions.get_by_role("button", name="Roll back to v1").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("The next call runs version 1 instead of version 2")
        await visit.check("versions-rollback-confirm")
        await dialog.get_by_role("button", name="Roll back to v1").click()
        await expect(versions.locator('tr[data-version="1"]')).to_have_attribute(
            "data-live", "true"
        )
        await expect(versions.get_by_text("Live version v1")).to_be_visible()
        # The draft (v2's greeting) now differs from what runs again.
        await expect(versions.get_by_text("Unpublished changes")).to_be_visible()

        analytics = page.get_by_role("region", name="Analytics")
        figures = analytics.get_by_role("row", name=re.compile(r"^v1 "))
        calls = figures.get_by_role("cell").nth(0)
        await expect(
            analytics.get_by_text("Calls of the last 30 days.", exact=True)
        ).to_be_visible()
        await expect(calls).to_have_text("4")
        await expect(
            analytics.get_by_role("img", name=re.compile("Calls per version"))
        ).to_be_visible()
        # A shorter window asks the API again: the call of 20 days ago drops out.
        period = analytics.get_by_label("Period")
        await period.select_option("7")
        await expect(analytics.get_by_text("Calls of the last 7 days.", exact=True)).to_be_visible()
        await expect(calls).to_have_text("3")
        await analytics.get_by_label("By day").check()
        await expect(analytics.get_by_role("img", name=re.compile("Calls per day"))).to_be_visible()
        all_calls = analytics.get_by_role("row", name=re.compile(r"^All ")).get_by_role("cell")
        await expect(all_calls.nth(0)).to_have_text("3")
        await period.select_option("90")  # by day still, now with the call of 20 days ago
        await expect(
            analytics.get_by_text("Calls of the last 90 days.", exact=True)
        ).to_be_visible()
        await expect(all_calls.nth(0)).to_have_text("4")
        await expect(analytics.get_by_role("radio", name="By day")).to_be_checked()
        await visit.check("versions-rolled-back-analytics")

        # Each page's code downloads when first shown: one that cannot be downloaded (offline, or
        # its file replaced by a new deployment) is a sentence with Reload, not a blank app.
        async def refuse(route: Route) -> None:
            await route.abort()

        await page.route(re.compile(r"/assets/VoxiePage-[\w-]+\.js$"), refuse)
        visit.allow(r"Failed to load resource: net::ERR_FAILED")
        visit.allow(r"Failed to fetch dynamically imported module")
        await page.get_by_role("link", name="Create with Voxie").click()
        failed = page.get_by_role("alert")
        await expect(failed).to_contain_text("This page could not be downloaded")
        await expect(failed.get_by_role("button", name="Reload")).to_be_visible()
        await visit.check("page-not-downloaded")
        await page.get_by_role("link", name="Agents", exact=True).click()
        await expect(page.get_by_role("heading", name="Agents", exact=True)).to_be_visible()


# --- 6. the call history: filtered by kind on the server, paged past its first page --------------


async def test_calls_are_filtered_by_kind_past_the_newest_and_paged_with_load_more(
    dashboard: Dashboard,
) -> None:
    agent = await create_agent(dashboard, "user", slug="paged-pam", name="Paged Pam")
    # 205 live calls, and 3 test calls older than all of them: the page once read the newest 200
    # and filtered the kind in the browser, so it found none of the test calls.
    await record_calls(
        dashboard,
        agent,
        """insert into public.call_sessions (agent_id, owner_id, room_name, kind, deployment,
               status, started_at, ended_at, end_reason)
           select $1, $2, 'pam-' || n, case when n <= 3 then 'test' else 'live' end, 'dev',
                  'ended', now() - make_interval(mins => 1000 - n),
                  now() - make_interval(mins => 1000 - n) + interval '30 seconds', 'user_hangup'
           from generate_series(1, 208) as n""",
    )

    async with browsing(dashboard, "calls-paged") as (_, visit):
        page = visit.page
        await sign_in(visit)
        await visit.goto(f"/calls?agent={agent['id']}")
        calls = page.get_by_role("row").filter(
            has=page.get_by_role("link", name=re.compile("View call"))
        )
        count = page.locator(".list-count")
        await expect(count).to_have_text("Showing 50 of 208 calls")
        await expect(calls).to_have_count(50)

        # Opened on a link's `?agent=`: the picker names the agent, each row too.
        await expect(page.get_by_label("Agent")).to_have_value("Paged Pam")
        await expect(calls.first.get_by_role("cell", name="Paged Pam", exact=True)).to_be_visible()

        await page.get_by_label("Kind").select_option(label="Test call")
        await expect(count).to_have_text("Showing 3 of 3 calls")
        await expect(calls).to_have_count(3)
        await expect(page.get_by_role("button", name="Load more")).to_have_count(0)
        await visit.check("calls-kind-older-than-200")

        await page.get_by_label("Kind").select_option(label="Live call")
        await expect(count).to_have_text("Showing 50 of 205 calls")
        await page.get_by_role("button", name="Load more").click()
        await expect(count).to_have_text("Showing 100 of 205 calls")
        await expect(calls).to_have_count(100)
        await visit.check("calls-load-more")
        for shown in (150, 200, 205):
            await page.get_by_role("button", name="Load more").click()
            await expect(count).to_have_text(f"Showing {shown} of 205 calls")
        await expect(calls).to_have_count(205)
        await expect(page.get_by_role("button", name="Load more")).to_have_count(0)
        # A filter change starts the list again from its first page.
        await page.get_by_label("Kind").select_option(label="All kinds")
        await expect(count).to_have_text("Showing 50 of 208 calls")
        await expect(calls).to_have_count(50)


# --- 6b. a call's page on a phone: its Tokens table does not scroll sideways ---------------------


async def test_a_calls_tokens_fit_a_phone_without_scrolling_sideways(dashboard: Dashboard) -> None:
    """The call page's Tokens table: six columns at desktop width; on a 390 px phone each
    model's figures stacked as labelled lines, so the page is no wider than the phone (the
    table alone was 540 px wide there, the only page that scrolled sideways)."""
    agent = await create_agent(dashboard, "user", slug="token-tess", name="Token Tess")
    await record_calls(
        dashboard,
        agent,
        """with call as (
               insert into public.call_sessions (agent_id, owner_id, room_name, kind, deployment,
                   status, started_at, ended_at, end_reason)
               values ($1, $2, 'tokens-' || gen_random_uuid(), 'test', 'dev', 'ended',
                       now() - interval '5 min', now() - interval '2 min', 'user_hangup')
               returning id)
           insert into public.token_usage (session_id, model, input_tokens, output_tokens,
               input_audio_tokens, output_audio_tokens, audio_seconds)
           select call.id, usage.* from call, (values
               ('gpt-4o-realtime-preview-2025-06-03', 1240000, 310000, 4521000, 9812000, 187.5),
               ('gpt-4o-mini-transcribe', 0, 2300, 15800, 0, 181.0)) as usage""",
    )
    async with browsing(dashboard, "call-tokens") as (_, visit):
        page = visit.page
        await sign_in(visit)
        await visit.goto(f"/calls?agent={agent['id']}")
        await page.get_by_role("link", name=re.compile("View call")).first.click()
        tokens = page.get_by_role("region", name="Tokens")
        await expect(tokens).to_contain_text("9,812,000")
        await expect(tokens.get_by_role("columnheader", name="Audio out")).to_be_visible()
        await visit.check("call-tokens")  # at both widths; no sideways scrolling on the phone

        await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
        box = await tokens.locator("table").bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
        # Stacked, each figure is still named: its column's label is shown beside it.
        audio_out = tokens.get_by_role("cell", name="9,812,000")
        label = await audio_out.evaluate("cell => getComputedStyle(cell, '::before').content")
        assert label == '"Audio out: "', label


# --- 6c. a call's response times (issue 27): each turn's latency on the call page ---------------

HOURS = "We are open from nine to five."
HOLD_ON = "Let me check that for you."


async def test_a_calls_page_shows_each_turns_response_time(dashboard: Dashboard) -> None:
    agent = await create_agent(dashboard, "user", slug="timed-tim", name="Timed Tim")
    session_id = uuid.uuid4()
    await record_calls(
        dashboard,
        agent,
        f"""insert into public.call_sessions (id, agent_id, owner_id, room_name, kind,
               deployment, status, started_at, ended_at, end_reason)
           values ('{session_id}', $1, $2, 'tim-1', 'test', 'dev', 'ended',
                   now() - interval '2 minutes', now() - interval '1 minute', 'user_hangup')""",
    )
    # The call's records as the spawner writes them at its end, through the real store.
    spoken = datetime.now(UTC) - timedelta(seconds=100)
    store = await PostgresStore.connect(dashboard.database_url)
    try:
        await store.write_transcript(
            session_id,
            [
                {"type": "message", "id": "item_hi", "role": "assistant", "content": [GREETING]},
                {"type": "message", "id": "item_ask", "role": "user", "content": ["When?"]},
                {"type": "message", "id": "item_hours", "role": "assistant", "content": [HOURS]},
                {"type": "message", "id": "item_hold", "role": "assistant", "content": [HOLD_ON]},
            ],
        )
        await store.write_turns(
            session_id,
            [
                CallTurn(turn=1, item_id="item_hi", spoken_at=spoken, model_ttfa_s=0.054),
                CallTurn(
                    turn=2,
                    item_id="item_hours",
                    spoken_at=spoken,
                    latency_s=0.635,
                    model_ttfa_s=0.614,
                ),
                CallTurn(
                    turn=3, item_id="item_hold", spoken_at=spoken, latency_s=1.5, interrupted=True
                ),
            ],
        )
    finally:
        await store.close()

    async with browsing(dashboard, "call-response-times") as (_, visit):
        page = visit.page
        await sign_in(visit)
        await visit.goto(f"/calls/{session_id}")
        times = page.get_by_role("region", name="Response times")
        await expect(
            times.get_by_text("2 answers to the caller; the slowest came after 1.50 s.")
        ).to_be_visible()
        rows = times.locator("tbody tr")
        await expect(rows).to_have_count(3)
        await expect(rows.nth(0).get_by_role("cell")).to_have_text(
            [GREETING, "Nothing from the caller before it", "54 ms"]
        )
        await expect(rows.nth(1).get_by_role("cell")).to_have_text([HOURS, "635 ms", "614 ms"])
        await expect(rows.nth(2).get_by_role("cell")).to_have_text(
            [f"{HOLD_ON} (interrupted)", "1.50 s", "—"]
        )
        await visit.check("call-response-times")


# --- 7. the agents list: the database searches, and pages past the first ----------------------


async def test_the_agents_list_searches_the_database_and_loads_more(dashboard: Dashboard) -> None:
    """More agents than a page: "Load more" appends the rest; the search box finds an agent
    that is not on the first page, and a search that finds nothing says so, the box still there.
    The Calls page's agent filter searches the same way, and its rows name every agent."""
    await archive_all_agents(dashboard, "user")
    headers = await api_token(dashboard, "user")
    async with httpx.AsyncClient(timeout=10) as http:
        # The oldest, so the 54 newer ones put it on the second page (the list is newest first).
        names = ["Needle 50%_off"] + [f"Hay {i}" for i in range(54)]
        agents: dict[str, dict[str, Any]] = {}
        for i, name in enumerate(names):
            body = {"slug": f"listed-{i}", "name": name, "instructions": INSTRUCTIONS}
            created = await http.post(f"{dashboard.url}/api/agents", json=body, headers=headers)
            assert created.status_code == 201, created.text
            agents[name] = created.json()
    # A call each for the two oldest agents (past any first page of agents): the newest calls.
    one_call = """insert into public.call_sessions (agent_id, owner_id, room_name, kind,
                      deployment, status, started_at, ended_at, end_reason)
                  values ($1, $2, 'listed-' || gen_random_uuid(), 'test', 'dev', 'ended',
                          now() - interval '1 min', now() - interval '40 s',
                          'user_hangup')"""
    await record_calls(dashboard, agents["Needle 50%_off"], one_call)
    await record_calls(dashboard, agents["Hay 0"], one_call)
    async with browsing(dashboard, "agents-list") as (_, visit):
        page = visit.page
        await sign_in(visit)
        rows = page.locator("table tbody tr")
        count = page.locator(".list-count")
        await expect(count).to_have_text("Showing 50 of 55 agents")
        await expect(rows).to_have_count(50)
        await expect(page.get_by_role("link", name="Needle 50%_off", exact=True)).to_have_count(0)
        await page.get_by_role("button", name="Load more").click()
        await expect(count).to_have_text("Showing 55 of 55 agents")
        await expect(rows).to_have_count(55)
        await expect(page.get_by_role("button", name="Load more")).to_have_count(0)
        await visit.check("agents-all-loaded")

        search = page.get_by_label("Search agents")
        await search.fill("needle 50%_")
        await expect(count).to_have_text("Showing 1 of 1 agent matching “needle 50%_”")
        await expect(rows).to_have_count(1)
        await expect(page.get_by_role("link", name="Needle 50%_off", exact=True)).to_be_visible()
        await search.fill("zebra")
        await expect(count).to_have_text("No agent matches “zebra”.")
        await expect(rows).to_have_count(0)
        await expect(search).to_be_visible()
        await visit.check("agents-no-match")
        await search.fill("")
        await expect(count).to_have_text("Showing 50 of 55 agents")

        # The Calls page: each row names its agent; the filter finds one by part of its name.
        await page.get_by_role("link", name="Calls", exact=True).click()
        await expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
        calls = page.get_by_role("row").filter(
            has=page.get_by_role("link", name=re.compile("View call"))
        )

        def call_with(name: str) -> Any:
            return calls.filter(has=page.get_by_role("cell", name=name, exact=True))

        for name in ("Needle 50%_off", "Hay 0"):
            await expect(call_with(name)).to_have_count(1)
        picker = page.get_by_label("Agent")
        await picker.fill("eedle 50")
        needle = page.get_by_role("option", name=re.compile("Needle 50%_off"))
        await expect(needle).to_be_visible()
        await visit.check("calls-agent-picker")
        await needle.click()
        await expect(page).to_have_url(re.compile(f"agent={agents['Needle 50%_off']['id']}"))
        await expect(picker).to_have_value("Needle 50%_off")
        await expect(page.locator(".list-count")).to_have_text("Showing 1 of 1 call")
        await expect(calls.get_by_role("cell", name="Needle 50%_off", exact=True)).to_be_visible()
        # By keyboard alone: type, arrow down to the match, Enter.
        await picker.fill("hay 0")
        await expect(page.get_by_role("listbox").get_by_role("option")).to_have_text(
            ["Hay 0 listed-1"]
        )
        await picker.press("ArrowDown")
        await picker.press("Enter")
        await expect(picker).to_have_value("Hay 0")
        await expect(page).to_have_url(re.compile(f"agent={agents['Hay 0']['id']}"))
        await expect(calls.get_by_role("cell", name="Hay 0", exact=True)).to_be_visible()
        await expect(calls).to_have_count(1)
        await page.get_by_role("button", name="All agents").click()
        await expect(picker).to_have_value("")
        await expect(page).not_to_have_url(re.compile("agent="))
        await expect(call_with("Needle 50%_off")).to_have_count(1)
        await visit.check("calls-every-agent-named")


# --- 8. tool secrets: created on the Secrets page, never shown, bound on the agent page ---------

SECRET = "CLINIC_API_TOKEN"
SECRET_HOSTS = ["api.clinic.example", "*.clinic.example"]


async def delete_all_secrets(dashboard: Dashboard, as_who: str) -> None:
    """Every stored secret of the account deleted (another run on the same database left some)."""
    headers = await api_token(dashboard, as_who)
    async with httpx.AsyncClient(timeout=10) as http:
        listed = await http.get(f"{dashboard.url}/api/secrets", headers=headers)
        assert listed.status_code == 200, listed.text
        for secret in listed.json()["items"]:
            if secret["source"] == "stored":
                deleted = await http.delete(
                    f"{dashboard.url}/api/secrets/{secret['name']}", headers=headers
                )
                assert deleted.status_code == 204, deleted.text


async def create_secret(dashboard: Dashboard, name: str, hosts: list[str]) -> None:
    """One of the dev user's secrets, created through the API (not the page under test)."""
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(
            f"{dashboard.url}/api/secrets",
            json={"name": name, "value": f"value of {name}", "hosts": hosts},
            headers=await api_token(dashboard, "user"),
        )
    assert created.status_code == 201, created.text


async def set_egress(dashboard: Dashboard, owner_id: uuid.UUID, allow: list[str]) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        egress = await http.put(
            f"{dashboard.url}/api/owners/{owner_id}/egress",
            json={"allow": allow},
            headers=await api_token(dashboard, "operator"),
        )
    assert egress.status_code == 200, egress.text


async def test_a_secret_is_created_never_shown_bound_on_the_agent_page_and_deleted(
    dashboard: Dashboard,
) -> None:
    """The dev user adds a secret on the Secrets page: listed with its hosts, its value nowhere
    in the page; an agent whose tool sends it says which secret goes to which hosts, and switches
    the header to another secret (refused for one bound elsewhere); deleted, the agent page warns
    that the tool will fail until it is created again."""
    await delete_all_secrets(dashboard, "user")
    value = f"Bearer sk_live_{uuid.uuid4().hex}"
    async with browsing(dashboard, "secrets") as (_, visit):
        page = visit.page
        await sign_in(visit)
        await page.get_by_role("link", name="Secrets", exact=True).click()
        await expect(page.get_by_role("heading", name="Secrets", exact=True)).to_be_visible()
        await expect(page.get_by_text("No secrets yet.")).to_be_visible()
        await visit.check("secrets-empty")

        # The server's 422 reasons beside their fields; the value is typed once and kept.
        name, hosts = page.get_by_label("Name"), page.get_by_label("Hosts it may be sent to")
        await name.fill("clinic token")
        await page.get_by_label("Value").fill(value)
        await hosts.fill("api.clinic.example\nnot_a_host!")
        visit.allow(REFUSED_LOAD.format(422))
        await page.get_by_role("button", name="Add secret").click()
        await expect(name).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#secret-name-error")).to_be_visible()
        await expect(page.locator("#secret-hosts-error")).to_contain_text("not_a_host!")
        await visit.check("secrets-invalid")

        await name.fill(SECRET)
        await hosts.fill("\n".join(SECRET_HOSTS))
        await page.get_by_role("button", name="Add secret").click()
        await expect(page.get_by_text(f"Secret {SECRET} was saved.")).to_be_visible()
        row = page.locator(f'tr[data-secret="{SECRET}"]')
        for host in SECRET_HOSTS:
            await expect(row).to_contain_text(host)
        await expect(row.locator('td[data-label="Last used"]')).to_have_text("never")
        await expect(page.get_by_label("Value")).to_have_value("")
        assert value not in await page.content()
        await page.reload()  # the list as the API answers it, afresh
        await expect(row).to_be_visible()
        assert value not in await page.content()
        await visit.check("secrets-listed")
        # The name again: the server's 409, beside the name.
        await name.fill(SECRET)
        await page.get_by_label("Value").fill("another value")
        await hosts.fill("api.clinic.example")
        visit.allow(REFUSED_LOAD.format(409))
        await page.get_by_role("button", name="Add secret").click()
        await expect(page.locator("#secret-name-error")).to_have_text(
            f"You already have a secret named {SECRET}."
        )

        # An agent whose tool sends the secret; its host, which this machine cannot resolve, is
        # exempt from the internal-address guard for the dev user (the operator's egress).
        await set_egress(dashboard, DEV_USER_ID, ["api.clinic.example"])
        tool = {
            "type": "http",
            "name": "book_cleaning",
            "description": "Book a cleaning.",
            "method": "POST",
            "url": "https://api.clinic.example/bookings",
            "headers": {"Authorization": {"secret": SECRET}, "Accept": "application/json"},
        }
        agent = await create_agent(
            dashboard, "user", slug="secret-sue", name="Secret Sue", tools=[tool]
        )
        await visit.goto(f"/agents/{agent['id']}")
        actions = page.get_by_role("region", name="Actions")
        binding = f"Authorization ← secret {SECRET} ({', '.join(SECRET_HOSTS)})"
        await expect(actions.locator(".binding-line")).to_have_text([binding])
        await expect(actions.get_by_text("does not exist")).to_have_count(0)
        await visit.check("agent-secret-bound")

        # The header switched to another of the owner's secrets: refused (422, beside the
        # select) for one not bound to the tool's host, saved for one that is.
        await create_secret(dashboard, "CRM_KEY", ["crm.example"])
        await create_secret(dashboard, "CLINIC_SPARE_TOKEN", ["api.clinic.example"])
        await page.reload()
        choice = actions.get_by_label("Secret for Authorization of book_cleaning")
        switch = actions.get_by_role("button", name="Switch Authorization of book_cleaning")
        await choice.select_option("CRM_KEY")
        await switch.click()
        await expect(choice).to_have_attribute("aria-invalid", "true")
        await expect(actions.locator(".field-error")).to_contain_text("crm.example")
        await visit.check("agent-secret-switch-refused")
        await choice.select_option("CLINIC_SPARE_TOKEN")
        await switch.click()
        await expect(actions.get_by_role("status")).to_contain_text(
            "Authorization header now sends secret CLINIC_SPARE_TOKEN"
        )
        await expect(actions.locator(".binding-line")).to_have_text(
            ["Authorization ← secret CLINIC_SPARE_TOKEN (api.clinic.example)"]
        )
        versions = page.get_by_role("region", name="Versions")
        await expect(versions.get_by_text("Unpublished changes")).to_be_visible()
        await choice.select_option(SECRET)
        await switch.click()
        await expect(actions.locator(".binding-line")).to_have_text([binding])

        # Deleted, after a confirmation: gone from the list, and the agent page warns.
        await page.get_by_role("link", name="Secrets", exact=True).click()
        await row.get_by_role("button", name=f"Delete {SECRET}").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text(f"Delete secret {SECRET}?")
        await visit.check("secrets-delete-confirm")
        await dialog.get_by_role("button", name="Delete").click()
        await expect(page.get_by_text(f"Secret {SECRET} was deleted.")).to_be_visible()
        await expect(row).to_have_count(0)
        await visit.goto(f"/agents/{agent['id']}")
        await expect(actions).to_contain_text(
            f"Secret {SECRET} does not exist: the tool will fail until it is created."
        )
        await expect(
            actions.get_by_role("link", name="Create it on the Secrets page.")
        ).to_be_visible()
        await visit.check("agent-secret-missing")
    await set_egress(dashboard, DEV_USER_ID, [])


# --- 9. a new agent by form (issue 22): its action sends a secret; the draft heard; the words ----


async def test_a_new_agent_is_made_with_the_form_and_its_draft_tested_before_it_is_published(
    dashboard: Dashboard,
) -> None:
    """From the empty list to the New agent form: voice and model from the API's lists, an action
    with an input and a header sending a secret; the server's 422s beside the URL (an internal
    address) and the header (a secret bound to another host), then created as a draft. Its page
    says "Revision" for the draft's counter and offers "Test draft", which runs and greets; the
    edit form's voice and model are the same lists; activated, Compare starts at live vs draft."""
    await archive_all_agents(dashboard, "user")
    await delete_all_secrets(dashboard, "user")
    await create_secret(dashboard, SECRET, ["api.clinic.example"])
    await create_secret(dashboard, "CRM_KEY", ["crm.example"])
    # The tool's host does not resolve here: exempt it from the internal-address guard.
    await set_egress(dashboard, DEV_USER_ID, ["api.clinic.example"])
    catalog = await api_get(dashboard, "/api/catalog")
    async with browsing(dashboard, "new-agent") as (_, visit):
        page = visit.page
        await sign_in(visit)
        await expect(page.get_by_role("heading", name="No agents yet")).to_be_visible()
        await page.get_by_role("link", name="Fill in a form instead").click()
        await expect(page.get_by_role("heading", name="New agent", exact=True)).to_be_visible()

        about = page.get_by_role("region", name="The agent")
        await about.get_by_label("Name").fill("Clarence Forms")
        await expect(about.get_by_label("Slug")).to_have_value("clarence-forms")
        voice, model = about.get_by_label("Voice"), about.get_by_label("Model")
        await expect(voice.locator("option")).to_have_count(len(catalog["voices"]))
        await expect(voice).to_have_value(catalog["default_voice"])
        await expect(model.locator("option")).to_have_count(len(catalog["models"]))
        await voice.select_option("cedar")
        await about.get_by_label("Greeting").fill(GREETING)
        await about.get_by_label("Instructions").fill(INSTRUCTIONS)

        actions = page.get_by_role("region", name="Actions")
        await actions.get_by_role("button", name="Add an action").click()
        action = actions.get_by_role("group", name=re.compile("^Action 1"))
        await action.get_by_label("Name", exact=True).fill("book_cleaning")
        await action.get_by_label("URL").fill("http://127.0.0.1:9/bookings")
        await action.get_by_label("Description", exact=True).fill("Book a cleaning.")
        await action.get_by_role("button", name="Add an input to action 1").click()
        await action.get_by_label("Input name").fill("start")
        await action.get_by_label("What it means").fill("When the cleaning starts")
        await visit.check("new-agent-form")

        # The server refuses an internal address: beside the URL.
        visit.allow(REFUSED_LOAD.format(422))
        create = page.get_by_role("button", name="Create agent")
        await create.click()
        url = action.get_by_label("URL")
        await expect(url).to_have_attribute("aria-invalid", "true")
        await expect(url).to_be_focused()
        await expect(action.locator(f"#{await url.get_attribute('id')}-error")).to_contain_text(
            "internal address"
        )
        await expect(page.get_by_role("alert").first).to_contain_text("not created")
        await visit.check("new-agent-refused-url")

        # A public URL, and a header sending a secret bound to another host: beside the header.
        await url.fill("https://api.clinic.example/bookings")
        await action.get_by_role("button", name="Add a header to action 1").click()
        await action.get_by_label("Header name").fill("Authorization")
        await action.get_by_label("Value from").select_option("secret")
        secret = action.get_by_label("Secret", exact=True)
        await secret.select_option("CRM_KEY")
        await create.click()
        await expect(secret).to_have_attribute("aria-invalid", "true")
        await expect(action.locator(".subrow-header .field-error")).to_contain_text(
            "may only be sent to crm.example"
        )
        await expect(url).to_have_attribute("aria-invalid", "false")
        await visit.check("new-agent-refused-secret")

        await secret.select_option(SECRET)
        await create.click()
        await expect(page.get_by_role("heading", name=re.compile("Clarence Forms"))).to_be_visible()
        await expect(page.get_by_text("was created as a draft")).to_be_visible()
        bound = page.get_by_role("region", name="Actions").locator(".binding-line")
        await expect(bound).to_have_text([f"Authorization ← secret {SECRET} (api.clinic.example)"])
        # The words: the draft's counter is a revision; a never-published agent is just that.
        config = page.get_by_role("region", name="Configuration")
        await expect(config.get_by_text("Revision 1, saved")).to_be_visible()
        versions = page.get_by_role("region", name="Versions")
        await expect(versions.locator(".version-state")).to_have_text("Not published yet")
        await expect(page.get_by_role("button", name="Test agent")).to_have_count(0)
        await visit.check("new-agent-created")

        # Listed as a draft whose test is of its draft.
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Agents").click()
        await expect(page.get_by_role("button", name="Test draft Clarence Forms")).to_be_visible()
        await page.get_by_role("link", name="Clarence Forms", exact=True).click()

        # "Test draft": the draft runs (before anything is published) and greets.
        await no_agent_rooms(dashboard)
        dashboard.double.reset()
        dashboard.double.script(GREETING)
        await page.locator(".page-head").get_by_role("button", name="Test draft").click()
        await expect(page.get_by_role("heading", name="Test Clarence Forms")).to_be_visible()
        await expect(page.get_by_text("Running the unpublished draft")).to_be_visible()
        await expect(transcript(page)).to_contain_text(GREETING, timeout=90_000)
        await visit.check("new-agent-draft-call")
        await page.get_by_role("button", name="End call").click()
        await expect(page.get_by_text("You ended the call.")).to_be_visible()

        # The edit form offers the same lists; saving says which revision the draft is.
        await page.get_by_role("link", name="Clarence Forms", exact=True).click()
        await page.get_by_role("button", name="Edit", exact=True).click()
        edit_voice, edit_model = (
            page.locator("select#edit-voice"),
            page.locator("select#edit-model"),
        )
        await expect(edit_voice).to_have_value("cedar")
        await expect(edit_voice.locator("option")).to_have_count(len(catalog["voices"]))
        await expect(edit_model).to_have_value(catalog["default_model"])
        await expect(edit_model.locator("option")).to_have_count(len(catalog["models"]))
        await edit_voice.select_option("sage")
        await page.get_by_label("Status").select_option("active")
        await visit.check("new-agent-edit")
        await page.get_by_role("button", name="Save changes").click()
        saved = "Changes saved as revision 2 of the draft, and published as version 1"
        await expect(page.get_by_text(f"{saved}: calls run it.")).to_be_visible()
        await expect(config.get_by_text("Revision 2, saved")).to_be_visible()
        # Activated: version 1 is live, and Compare starts at what calls run vs the draft.
        await expect(versions.locator(".version-state")).to_have_text("Live version v1")
        await expect(versions.get_by_label("Compare")).to_have_value("1")
        await expect(versions.get_by_label("with", exact=True)).to_have_value("draft")
        await expect(
            versions.get_by_text("v1 and Draft run the same configuration.")
        ).to_be_visible()
        await expect(
            page.locator(".page-head").get_by_role("button", name="Test agent")
        ).to_be_visible()
        await visit.check("new-agent-activated")
    await set_egress(dashboard, DEV_USER_ID, [])
