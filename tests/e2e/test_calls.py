"""Voice calls end to end (issue 14 §3): real `python -m backend`, `python -m spawner start` and
`python -m voxie start` processes on a real livekit-server, the models served by the OpenAI
double (tests/support/openai) that speaks real audio, and a real rtc client as the human who
hears the agent, reads its transcription, speaks from espeak-ng WAVs and types on `lk.chat`.

The processes are shared by the module (one platform, one double, started once); each test
scripts the double afresh and waits until its own calls have ended, so the tests stay
independent. The spawner reaches the model and the database through TCP proxies a test can cut
(the model's and the store's outages); Voxie and the backend reach them directly.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from livekit import rtc
from pydantic import SecretStr

from shared.contracts import AgentConfig
from shared.contracts.lifecycle import PREFIX
from shared.contracts.room_messages import (
    SPAWNER_ERROR,
    VOXIE_AGENT_SAVED,
    VOXIE_AGENT_VERSION,
    VOXIE_DRAFT,
)
from shared.secret_box import SecretBox, new_key
from shared.store import NotFound
from shared.store.postgres import PostgresStore
from tests.e2e.support import eventually, healthy, registered, spawn
from tests.spawner.conftest import OWNER, SECRET, clinic_app, new_agent
from tests.spawner.test_agent import BOOK
from tests.support.human import Human, speech_wav
from tests.support.openai import OpenAIDouble, RealtimeRecord, ToolCall, Turn
from tests.support.platform import OPERATOR, Platform
from tests.support.processes import ServiceProcess
from tests.support.serving import ThreadedServer
from tests.support.tcp_proxy import TcpProxy, target_of, via
from voxiectl.livekit_local import LiveKitServer

pytestmark = pytest.mark.timeout(240)

TRANSCRIPTION = "lk.transcription"
AGENT_STATE = "lk.agent.state"
TOPICS = (TRANSCRIPTION, SPAWNER_ERROR, VOXIE_DRAFT, VOXIE_AGENT_SAVED, VOXIE_AGENT_VERSION)
GRACE_S = "2"
ALLOW_LOCAL = json.dumps(["127.0.0.1"])
# The booking call of flows 1 and 5: what the caller says, the model answers and summarises.
BOOKING = "Book me at ten please."
BOOKED = "You're booked for ten."
SUMMARY = "The caller booked an appointment at ten."


def book_tool(clinic: str) -> dict[str, Any]:
    return {**BOOK, "url": f"{clinic}/bookings"}


@dataclass
class Calls:
    platform: Platform
    double: OpenAIDouble
    clinic: str
    model_link: TcpProxy  # the spawner's way to the model
    store_link: TcpProxy  # the spawner's way to the database
    backend: ServiceProcess
    spawner: ServiceProcess
    voxie: ServiceProcess
    database_url: str
    directory: Path


@pytest.fixture(scope="module")
def double() -> Iterator[OpenAIDouble]:
    with OpenAIDouble() as running:
        yield running


@pytest.fixture(scope="module")
def clinic() -> Iterator[str]:
    server = ThreadedServer(clinic_app(), name="clinic")
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
async def calls(
    lk: LiveKitServer,
    database_url: str,
    backend_port: int,
    tmp_path_factory: pytest.TempPathFactory,
    double: OpenAIDouble,
    clinic: str,
    store: PostgresStore,
) -> AsyncIterator[Calls]:
    directory = tmp_path_factory.mktemp("calls")
    model_link = await TcpProxy(("127.0.0.1", int(double.url.rsplit(":", 1)[1]))).start()
    store_link = await TcpProxy(target_of(database_url)).start()
    platform = Platform(lk, database_url, directory, backend_port, double.env())
    key = new_key()
    # The operator's own agents would use the environment's secret; the calls' agents, and the
    # one Voxie builds, are a user's, whose secret and exemption are stored as the API would.
    tools = {
        "TOOL_HTTP_ALLOWLIST": ALLOW_LOCAL,
        "TOOL_SECRETS": json.dumps(
            {"CLINIC_API_TOKEN": {"value": f"Bearer {SECRET}", "hosts": ["127.0.0.1"]}}
        ),
        "SECRETS_KEYS": json.dumps([key]),
    }
    await store.set_egress(OWNER, ["127.0.0.1"], updated_by="operator")
    with contextlib.suppress(NotFound):
        await store.delete_secret(OWNER, "CLINIC_API_TOKEN")
    sealed = SecretBox([SecretStr(key)]).seal(OWNER, "CLINIC_API_TOKEN", f"Bearer {SECRET}")
    await store.create_secret(OWNER, "CLINIC_API_TOKEN", ["127.0.0.1"], sealed)
    try:
        backend = platform.backend(GRACE_PERIOD_S=GRACE_S)
        spawner = platform.spawner(
            GRACE_PERIOD_S=GRACE_S,
            OPENAI_BASE_URL=f"http://127.0.0.1:{model_link.port}/v1",
            DATABASE_URL=via(database_url, store_link),
            **tools,
        )
        voxie = platform.voxie(**tools)
        async with httpx.AsyncClient(timeout=10) as http:
            await healthy(http, platform.api, backend)
        await registered(spawner, voxie)
        yield Calls(
            platform,
            double,
            clinic,
            model_link,
            store_link,
            backend,
            spawner,
            voxie,
            database_url,
            directory,
        )
    finally:
        platform.stop()
        await model_link.close()
        await store_link.close()


@pytest.fixture
def fresh(calls: Calls) -> Iterator[Calls]:
    """The module's platform with a fresh script and both links up (a failed test's report
    carries its processes' output, see conftest)."""
    calls.double.reset()
    calls.model_link.restore()
    calls.store_link.restore()
    yield calls
    calls.model_link.restore()
    calls.store_link.restore()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


# --- steps -----------------------------------------------------------------------------------


async def join(opened: dict[str, Any]) -> tuple[Human, rtc.RemoteParticipant]:
    human = await Human.join(opened["livekit_url"], opened["token"], text_topics=TOPICS)
    agent = await human.one_agent(within=60)
    return human, agent


async def hears(human: Human, agent: rtc.RemoteParticipant, line: str) -> None:
    """The human reads `line` as the agent's transcription and has heard it speak."""

    def said() -> bool:
        return any(line in text for text in human.read(TRANSCRIPTION, agent.identity))

    await human.until(said, what=f"the agent to say {line!r}", within=60)
    assert human.heard(agent.identity) > 10, "the agent's track carried no sound"


async def listening(human: Human, agent: rtc.RemoteParticipant) -> None:
    """The agent finished speaking: what the human says now is a new turn, not an interruption."""
    await human.until(
        lambda: agent.attributes.get(AGENT_STATE) == "listening",
        what="the agent to listen",
        within=60,
    )


async def says(human: Human, text: str, directory: Path) -> None:
    name = "".join(c if c.isalnum() else "-" for c in text.lower())[:40]
    await human.speak(speech_wav(directory / f"{name}.wav", text))


async def greeted(
    calls: Calls, http: httpx.AsyncClient, agent_id: UUID, greeting: str
) -> tuple[Human, rtc.RemoteParticipant, str]:
    """A spawned call the human joined and heard greet; and its session id."""
    calls.double.script(greeting)
    human, agent = await join(await spawn(http, calls.platform.api, agent_id))
    try:
        await hears(human, agent, greeting)
    except BaseException:
        await human.leave()
        raise
    return human, agent, agent.attributes[f"{PREFIX}session_id"]


async def short_call(
    calls: Calls, http: httpx.AsyncClient, db: asyncpg.Connection, agent_id: UUID, greeting: str
) -> None:
    """A whole call: spawned, greeted, hung up, ended after the grace period."""
    human, _, session_id = await greeted(calls, http, agent_id, greeting)
    await human.leave()
    assert (await ended(db, session_id))["end_reason"] == "grace_expired"


async def told(human: Human) -> str:
    """The code of the `spawner.error` the room was told."""
    await human.until(
        lambda: human.read(SPAWNER_ERROR), what="spawner.error in the room", within=60
    )
    [notice] = human.read(SPAWNER_ERROR)
    code: str = json.loads(notice)["code"]
    return code


async def ended(db: asyncpg.Connection, session_id: str) -> asyncpg.Record:
    row: asyncpg.Record = await eventually(
        lambda: db.fetchrow(
            "select * from call_sessions where id = $1 and status <> 'active'", UUID(session_id)
        ),
        what="the session row to end",
        within=90,
    )
    return row


async def records(db: asyncpg.Connection, session_id: str) -> tuple[list[dict[str, Any]], Any]:
    transcript = await db.fetchrow(
        "select items, summary from call_transcripts where session_id = $1", UUID(session_id)
    )
    assert transcript is not None, "no transcript stored"
    return json.loads(transcript["items"]), transcript["summary"]


def conversation(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The transcript as (kind, who or what): messages by role, tool calls by name."""
    out: list[tuple[str, str]] = []
    for item in items:
        if item["type"] == "message":
            out.append((item["role"], " ".join(item["content"])))
        elif item["type"] == "function_call":
            out.append(("call", item["name"]))
        elif item["type"] == "function_call_output":
            out.append(("output", item["output"]))
    return out


def new_conversation(double: OpenAIDouble, seen: int) -> RealtimeRecord:
    """The realtime conversation opened after the first `seen` connections."""
    opened = [r for r in double.realtime[seen:] if r.intent != "transcription"]
    assert opened, "no realtime conversation reached the double"
    return opened[-1]


async def books(human: Human, agent: rtc.RemoteParticipant, directory: Path) -> None:
    """The caller asks to book, once the agent listens, and hears it booked."""
    await listening(human, agent)
    await says(human, BOOKING, directory)
    await hears(human, agent, BOOKED)


async def booking_recorded(
    db: asyncpg.Connection, session_id: str, greeting: str
) -> dict[str, asyncpg.Record]:
    """The booking call ended after the grace period with its transcript and summary; its
    token usage rows by model."""
    row = await ended(db, session_id)
    assert (row["end_reason"], row["status"]) == ("grace_expired", "ended")
    items, stored_summary = await records(db, session_id)
    said = conversation(items)
    assert said[0] == ("assistant", greeting)
    assert said[1] == ("user", BOOKING)
    assert said[2] == ("call", "book_appointment")
    assert said[3][0] == "output" and json.loads(said[3][1])["booked"] == "10:00"
    assert said[4] == ("assistant", BOOKED)
    assert stored_summary == SUMMARY
    usage = await db.fetch("select * from token_usage where session_id = $1", row["id"])
    return {r["model"]: r for r in usage}


# --- 1. a test call ---------------------------------------------------------------------------


async def test_a_call_greets_books_through_an_http_tool_and_is_recorded(
    fresh: Calls, http: httpx.AsyncClient, store: PostgresStore, db: asyncpg.Connection
) -> None:
    calls, double = fresh, fresh.double
    config = await store.create_agent(
        new_agent(
            voice="sage",
            summarize=True,
            tools=[book_tool(calls.clinic), {"type": "builtin", "name": "end_call"}],
        )
    )
    assert config.greeting
    double.script(
        config.greeting,
        Turn(calls=[ToolCall("book_appointment", {"start": "10:00"})]),
        BOOKED,
        SUMMARY,  # the end-of-call summary (chat completions)
    )
    double.hear(BOOKING)
    seen = len(double.realtime)

    human, agent = await join(await spawn(http, calls.platform.api, config.id))
    try:
        await hears(human, agent, config.greeting)
        model = new_conversation(double, seen)
        assert config.instructions in str(model.instructions)
        assert model.voice == "sage" and model.model == config.model
        assert set(model.tool_names) == {"book_appointment", "end_call"}
        session_id = agent.attributes[f"{PREFIX}session_id"]

        await books(human, agent, calls.directory)
        assert [t["transcript"] for t in model.user_turns] == [BOOKING]
        [output] = model.function_outputs
        booked = json.loads(output["output"])
        assert booked == {"booked": "10:00", "auth": f"Bearer {SECRET}"}
    finally:
        await human.leave()

    usage = await booking_recorded(db, session_id, config.greeting)
    assert usage[config.model]["input_tokens"] > 0
    assert usage[config.model]["output_audio_tokens"] > 0
    double.assert_consumed()
    # The owner's secret went to the clinic and nowhere else: no process logged it.
    for process in (calls.backend, calls.spawner, calls.voxie):
        assert SECRET not in process.output(), process.label


# --- turn latency (issue 27, item 3) ---------------------------------------------------------

HOURS_ASKED = "When are you open?"
HOURS = "We are open from nine to five."
THINKING_S = 0.6  # the model's scripted time to first audio for its answer


async def test_each_turns_latency_is_recorded_and_served_per_call_and_per_agent(
    fresh: Calls, http: httpx.AsyncClient, store: PostgresStore, db: asyncpg.Connection
) -> None:
    """The caller asks, the double's answer starts its audio THINKING_S after the response was
    created: the stored turn's model time and the caller's wait are at least that."""
    calls, double = fresh, fresh.double
    config = await store.create_agent(new_agent())
    double.script(config.greeting, Turn(say=HOURS, first_audio_delay_s=THINKING_S))
    double.hear(HOURS_ASKED)
    human, agent = await join(await spawn(http, calls.platform.api, config.id))
    try:
        await hears(human, agent, config.greeting)
        session_id = agent.attributes[f"{PREFIX}session_id"]
        await listening(human, agent)
        await says(human, HOURS_ASKED, calls.directory)
        await hears(human, agent, HOURS)
    finally:
        await human.leave()
    await ended(db, session_id)
    double.assert_consumed()

    api = calls.platform.api
    detail = (await http.get(f"{api}/api/sessions/{session_id}", headers=OPERATOR)).json()
    greeting, answer = detail["turns"]
    assert (greeting["turn"], answer["turn"]) == (1, 2)
    # Each turn names its reply in the transcript.
    replies = {
        item["id"]: " ".join(item["content"])
        for item in detail["transcript"]
        if item.get("role") == "assistant"
    }
    assert (replies[greeting["item_id"]], replies[answer["item_id"]]) == (config.greeting, HOURS)
    # The greeting answered no speech: no wait to measure; the model still reported its time.
    assert greeting["latency_s"] is None and greeting["model_ttfa_s"] is not None
    assert answer["model_ttfa_s"] >= THINKING_S
    # The caller's wait (their end of speech to the agent's first audio) holds the model's.
    assert answer["latency_s"] >= answer["model_ttfa_s"]
    assert not answer["interrupted"]

    analytics = await http.get(
        f"{api}/api/agents/{config.id}/analytics", headers=OPERATOR, params={"group_by": "day"}
    )
    assert analytics.status_code == 200, analytics.text
    [day] = analytics.json()["groups"]
    assert day["turns"] == 1
    assert day["p50_turn_latency_s"] == pytest.approx(answer["latency_s"])
    assert day["p95_turn_latency_s"] == pytest.approx(answer["latency_s"])


# --- 6. faults --------------------------------------------------------------------------------


async def test_a_model_lost_mid_call_fails_the_call_with_its_records_and_the_worker_serves_on(
    fresh: Calls, http: httpx.AsyncClient, store: PostgresStore, db: asyncpg.Connection
) -> None:
    calls = fresh
    config = await store.create_agent(new_agent())
    assert config.greeting
    human, _, session_id = await greeted(calls, http, config.id, config.greeting)
    try:
        # The socket goes down and stays down: the plugin's reconnects fail too.
        calls.model_link.cut()
        assert await told(human) == "model_unavailable"
    finally:
        await human.leave()
    row = await ended(db, session_id)
    assert (row["end_reason"], row["status"]) == ("error", "failed")
    assert "model" in row["error"]
    items, _ = await records(db, session_id)
    assert conversation(items)[0] == ("assistant", config.greeting)

    # The same worker takes the next call once the model is back.
    calls.model_link.restore()
    await short_call(calls, http, db, config.id, config.greeting)
    assert calls.spawner.returncode is None


async def test_a_model_unreachable_at_spawn_tells_the_room_and_fails_the_session(
    fresh: Calls, http: httpx.AsyncClient, store: PostgresStore, db: asyncpg.Connection
) -> None:
    calls = fresh
    config = await store.create_agent(new_agent())
    calls.model_link.cut()
    human, agent = await join(await spawn(http, calls.platform.api, config.id))
    try:
        assert await told(human) == "model_unavailable"
        session_id = agent.attributes[f"{PREFIX}session_id"]
        # The agent leaves: the caller is not kept waiting on an agent that cannot talk.
        await human.until(lambda: not human.agents(), what="the agent to leave", within=60)
    finally:
        await human.leave()
    row = await ended(db, session_id)
    assert (row["end_reason"], row["status"]) == ("error", "failed")
    assert human.heard(agent.identity) == 0


async def test_a_store_outage_during_a_call_spools_its_records_and_writes_them_later(
    fresh: Calls, http: httpx.AsyncClient, store: PostgresStore, db: asyncpg.Connection
) -> None:
    calls = fresh
    config = await store.create_agent(new_agent())
    assert config.greeting
    human, _, session_id = await greeted(calls, http, config.id, config.greeting)
    try:
        calls.store_link.cut()
    finally:
        await human.leave()
    await eventually(
        lambda: calls.spawner.events("session_end_spooled", session_id=session_id),
        what="the end to be spooled",
        within=90,
    )
    # Meanwhile the room closed and the backend inferred the end (`room_closed`); the
    # replayer writes the worker's own end over it once the store answers.
    calls.store_link.restore()
    await eventually(
        lambda: db.fetchval(
            "select end_reason = 'grace_expired' from call_sessions where id = $1",
            UUID(session_id),
        ),
        what="the spooled end to be written",
        within=90,
    )
    items, _ = await records(db, session_id)
    assert conversation(items)[0] == ("assistant", config.greeting)


# --- 3. creating an agent with Voxie ------------------------------------------------------------


async def test_voxie_builds_an_agent_from_speech_and_chat_saves_it_and_it_runs(
    fresh: Calls, http: httpx.AsyncClient, store: PostgresStore, db: asyncpg.Connection
) -> None:
    calls, double = fresh, fresh.double
    greeting = "Thanks for calling Coherence Dental, this is Clarence."
    instructions = "You are Clarence, the front desk of Coherence Dental. Book cleanings."
    booking = {
        "name": "book_appointment",
        "description": "Books a cleaning at the start time the caller confirmed.",
        "url": f"{calls.clinic}/bookings",
        "method": "POST",
        "inputs": [{"name": "start", "type": "string", "description": "start time, HH:MM"}],
        "secret_name": "CLINIC_API_TOKEN",
    }
    # Each step: what the human says or types, the tool the model calls, what it then says.
    steps: list[tuple[str, ToolCall, str]] = [
        (
            "Call the agent Clarence Dental.",
            ToolCall("set_name", {"name": "Clarence Dental"}),
            "Named.",
        ),
        ("Give it the robot voice.", ToolCall("set_voice", {"voice": "robot"}), "No such voice."),
        ("Then cedar.", ToolCall("set_voice", {"voice": "cedar"}), "Voice set."),
        (
            f"Greet with: {greeting}",
            ToolCall("set_greeting", {"greeting": greeting}),
            "Greeting set.",
        ),
        (
            "Bookings go to http://169.254.169.254/latest/meta-data/",
            ToolCall(
                "add_http_tool", {**booking, "url": "http://169.254.169.254/latest/meta-data/"}
            ),
            "That address is not public.",
        ),
        (
            f"Sorry, bookings go to {calls.clinic}/bookings",
            ToolCall("add_http_tool", booking),
            "Action added.",
        ),
        (
            "It books cleanings for Coherence Dental.",
            ToolCall("set_instructions", {"instructions": instructions}),
            "Instructions set.",
        ),
        ("Read it back to me.", ToolCall("review_draft", {}), "Here is your agent."),
        ("Yes, save it.", ToolCall("save_agent", {}), "Saved."),
    ]
    double.script("Hi, I'm Voxie. What will your agent do?")
    for _, call, reply in steps:
        double.script(Turn(calls=[call]), reply)
    double.hear(steps[0][0])
    seen = len(double.realtime)

    response = await http.post(
        f"{calls.platform.api}/api/voxie/sessions",
        # For the user whose secret and exemption the fixture stored: Voxie builds for users.
        json={"owner_id": str(OWNER)},
        headers=OPERATOR,
    )
    assert response.status_code == 201, response.text
    human, voxie = await join(response.json())
    try:
        await hears(human, voxie, "Hi, I'm Voxie.")
        model = new_conversation(double, seen)
        assert {"set_name", "set_voice", "add_http_tool", "save_agent"} <= set(model.tool_names)
        drafts: list[int] = []
        for n, (line, _, reply) in enumerate(steps):
            await listening(human, voxie)
            if n == 0:
                await says(human, line, calls.directory)  # spoken
            else:
                await human.type(line)  # typed on lk.chat, a pasted URL among them
            await hears(human, voxie, reply)
            drafts.append(len(human.read(VOXIE_DRAFT, voxie.identity)))
        outputs = [o["output"] for o in model.function_outputs]
        saved = human.read(VOXIE_AGENT_SAVED, voxie.identity)
    finally:
        await human.leave()

    # The refused steps came back to the model as tool errors, and sent no draft.
    assert len(outputs) == len(steps)
    assert "robot" in outputs[1] or "voice" in outputs[1].lower()
    assert "169.254.169.254" in outputs[4] or "internal" in outputs[4].lower()
    assert drafts[1] == drafts[0] and drafts[4] == drafts[3]
    # A draft after each accepted change.
    assert drafts[0] >= 1 and drafts[2] > drafts[1] and drafts[3] > drafts[2]
    assert drafts[5] > drafts[4] and drafts[6] > drafts[5]
    last_draft = json.loads(human.read(VOXIE_DRAFT, voxie.identity)[-1])
    assert last_draft["fields"]["voice"] == "cedar" and last_draft["missing"] == []
    assert "Clarence Dental" in outputs[7]  # the read-back
    [message] = saved
    agent_id = UUID(json.loads(message)["agent_id"])

    stored: AgentConfig = await store.get_agent(agent_id)
    assert stored.status.value == "active"
    assert (stored.name, stored.voice, stored.greeting, stored.instructions) == (
        "Clarence Dental",
        "cedar",
        greeting,
        instructions,
    )
    [tool] = stored.http_tools
    assert (tool.name, str(tool.url), tool.method) == (
        "book_appointment",
        f"{calls.clinic}/bookings",
        "POST",
    )
    assert list(tool.parameters["properties"]) == ["start"]
    double.assert_consumed()

    # Spawned, the saved agent runs and greets as configured.
    await short_call(calls, http, db, agent_id, greeting)

    # Voxie's call records its turns through the same skeleton: each reply to a line, spoken
    # or typed, with the caller's wait; the greeting answered nothing.
    room = response.json()["room_name"]
    voxie_session: asyncpg.Record = await eventually(
        lambda: db.fetchrow(
            "select id from call_sessions where room_name = $1 and status <> 'active'", room
        ),
        what="Voxie's session to end",
        within=90,
    )
    turns = await store.get_turns(voxie_session["id"])
    items, _ = await records(db, str(voxie_session["id"]))
    said = {i["id"]: " ".join(i["content"]) for i in items if i.get("role") == "assistant"}
    assert [said[t.item_id] for t in turns if t.item_id] == [
        "Hi, I'm Voxie. What will your agent do?",
        *(reply for _, _, reply in steps),
    ]
    assert turns[0].latency_s is None
    assert all(t.latency_s is not None and t.model_ttfa_s is not None for t in turns[1:])


# --- 2. interruption --------------------------------------------------------------------------


async def test_the_caller_interrupting_cuts_the_agents_turn(
    fresh: Calls, http: httpx.AsyncClient, store: PostgresStore, db: asyncpg.Connection
) -> None:
    calls, double = fresh, fresh.double
    config = await store.create_agent(new_agent())
    assert config.greeting
    long_answer = (
        "Our prices depend on the treatment. A cleaning costs ninety dollars, a check up "
        "costs sixty dollars, whitening costs three hundred dollars, and a filling starts at "
        "one hundred and twenty dollars, depending on the tooth and the material we use."
    )
    short_answer = "Sure, just a cleaning then."
    seen = len(double.realtime)
    human, agent, session_id = await greeted(calls, http, config.id, config.greeting)
    try:
        model = new_conversation(double, seen)
        double.script(long_answer, short_answer)
        double.hear("What are your prices?", "Stop, I only need a cleaning.")
        await listening(human, agent)
        # The model streams its audio in real time now: the long answer is still being
        # generated when the caller cuts in.
        double.audio_pace = 1.0
        await says(human, "What are your prices?", calls.directory)
        await human.until(
            lambda: agent.attributes.get(AGENT_STATE) == "speaking", what="the long answer"
        )
        heard = human.heard(agent.identity)
        await human.until(
            lambda: human.heard(agent.identity) > heard + 25, what="a second of the answer"
        )
        await says(human, "Stop, I only need a cleaning.", calls.directory)
        await hears(human, agent, short_answer)
    finally:
        double.audio_pace = 0.0
        await human.leave()
    cut = model.responses[1]
    assert cut.status == "cancelled" and cut.status_reason == "turn_detected"
    assert model.truncations, "the agent never told the model where its speech was cut"
    assert (await ended(db, session_id))["end_reason"] == "grace_expired"
    items, _ = await records(db, session_id)
    [interrupted] = [i for i in items if i.get("interrupted")]
    said = " ".join(interrupted["content"])
    assert said and long_answer.startswith(said.strip()) and len(said) < len(long_answer)
    assert conversation(items)[-1] == ("assistant", short_answer)


# --- 4. editing a live agent with Voxie ---------------------------------------------------------


async def test_voxie_edits_a_live_agent_a_running_call_keeps_its_version_the_next_runs_the_new(
    fresh: Calls, http: httpx.AsyncClient, store: PostgresStore, db: asyncpg.Connection
) -> None:
    calls, double = fresh, fresh.double
    config = await store.create_agent(new_agent())
    assert config.greeting
    new_greeting = "Coherence Dental, Clarence speaking. What can I do for you?"
    seen = len(double.realtime)
    caller, agent, session_id = await greeted(calls, http, config.id, config.greeting)
    try:
        running = new_conversation(double, seen)
        double.script(
            "Hi, I'm Voxie. You're editing Clarence Coherence. What should change?",
            Turn(calls=[ToolCall("set_greeting", {"greeting": new_greeting})]),
            "Greeting changed.",
            Turn(calls=[ToolCall("review_draft", {})]),
            "Here is the agent.",
            Turn(calls=[ToolCall("save_agent", {})]),
            "Saved. Publish it now?",
            Turn(calls=[ToolCall("publish_agent", {"note": "new greeting"})]),
            "Published.",
        )
        response = await http.post(
            f"{calls.platform.api}/api/voxie/sessions",
            headers=OPERATOR,
            json={"agent_id": str(config.id)},
        )
        assert response.status_code == 201, response.text
        editor, voxie = await join(response.json())
        try:
            await hears(editor, voxie, "You're editing Clarence Coherence.")
            for line, reply in (
                (f"Change the greeting to: {new_greeting}", "Greeting changed."),
                ("Read it back.", "Here is the agent."),
                ("Save it.", "Saved. Publish it now?"),
                ("Yes, publish it.", "Published."),
            ):
                await listening(editor, voxie)
                await editor.type(line)
                await hears(editor, voxie, reply)
            [saved] = editor.read(VOXIE_AGENT_SAVED, voxie.identity)
        finally:
            await editor.leave()
        assert json.loads(saved)["agent_id"] == str(config.id)
        edited = await store.get_agent(config.id)
        assert edited.greeting == new_greeting and edited.version > config.version
        assert edited.published_version == 2 and not edited.has_unpublished_changes
        [live] = [json.loads(m) for m in editor.read(VOXIE_AGENT_VERSION, voxie.identity)][-1:]
        assert live == {
            "agent_id": str(config.id),
            "published_version": 2,
            "has_unpublished_changes": False,
        }
        assert (edited.name, edited.instructions, edited.voice) == (
            config.name,
            config.instructions,
            config.voice,
        )
        # The call that was running goes on as it started: same agent, same session, and its
        # model was never told anything new.
        assert caller.agents() == [agent]
        assert agent.attributes[f"{PREFIX}session_id"] == session_id
        assert agent.attributes[f"{PREFIX}state"] == "active"
        assert running.instructions is not None and config.instructions in running.instructions
        assert not running.closed
    finally:
        await caller.leave()
    assert (await ended(db, session_id))["end_reason"] == "grace_expired"
    double.assert_consumed()
    # The next call runs the new version: its model is asked to greet with the new words.
    seen = len(double.realtime)
    await short_call(calls, http, db, config.id, new_greeting)
    [greet] = new_conversation(double, seen).responses[:1]
    assert greet.instructions is not None and new_greeting in greet.instructions


# --- 5. a pipeline agent ----------------------------------------------------------------------


async def test_a_pipeline_agent_greets_books_and_is_recorded_on_the_rest_models(
    fresh: Calls, http: httpx.AsyncClient, store: PostgresStore, db: asyncpg.Connection
) -> None:
    calls, double = fresh, fresh.double
    config = await store.create_agent(
        new_agent(
            pipeline="stt-llm-tts",
            summarize=True,
            tools=[book_tool(calls.clinic), {"type": "builtin", "name": "end_call"}],
        )
    )
    assert config.greeting
    double.script(Turn(calls=[ToolCall("book_appointment", {"start": "10:00"})]), BOOKED, SUMMARY)
    double.hear(BOOKING)
    chats, speeches = len(double.chats), len(double.speeches)
    human, agent = await join(await spawn(http, calls.platform.api, config.id))
    try:
        # The greeting is spoken as is, by the TTS: no model turn.
        await hears(human, agent, config.greeting)
        session_id = agent.attributes[f"{PREFIX}session_id"]
        await books(human, agent, calls.directory)
    finally:
        await human.leave()
    usage = await booking_recorded(db, session_id, config.greeting)
    assert {"gpt-4.1-mini", "gpt-4o-mini-tts"} <= set(usage)
    # A pipeline's turns: the greeting answered nothing; the booking waited from the caller's
    # speech, and its model time is the LLM's first token plus the TTS's first audio.
    greeting_turn, booked_turn = await store.get_turns(session_id)
    assert greeting_turn.latency_s is None
    assert booked_turn.latency_s is not None and booked_turn.model_ttfa_s is not None
    asked, answered, summarized = double.chats[chats:]
    assert config.instructions in asked.instructions
    assert set(asked.tool_names) == {"book_appointment", "end_call"}
    assert BOOKING in json.dumps(asked.messages)
    assert "10:00" in json.dumps(answered.messages)  # the tool's output went back to the LLM
    assert summarized.model != asked.model
    spoken = [s.input for s in double.speeches[speeches:]]
    # The TTS speaks sentence by sentence.
    assert " ".join(spoken).startswith(config.greeting) and BOOKED in spoken
    assert {s.voice for s in double.speeches[speeches:]} == {config.voice}
    double.assert_consumed()
