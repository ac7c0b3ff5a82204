"""One call skeleton (`shared.call`): a table of what can happen to a call and the end it is
recorded with, run against the spawner's call and Voxie's alike.

Each row runs a whole call of one worker as its job would: the worker's own `prepare` (the
spawner loads a stored agent, Voxie opens a draft), a real `AgentSession` in text mode with the
scripted LLM, the session records written through a process runtime to the real database. The
room is scripted (tests/support/call_room.py): the test plays what LiveKit would tell the call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from livekit.agents import llm
from livekit.agents.voice.events import CloseEvent, CloseReason
from structlog.testing import capture_logs

from shared.call import DELETE_ROOM_ON, END_OF_CLOSE, Call, best_effort, end_reason_of
from shared.contracts import EndReason, SessionStatus
from shared.contracts.room_messages import SpawnerErrorCode
from shared.runtime import Runtime
from shared.store.postgres import PostgresStore
from tests.conftest import make_settings
from tests.spawner.conftest import spawned_call
from tests.support.call_room import WAIT_S, ScriptedRoom
from tests.voxie.conftest import creation_call

ENDED, FAILED = SessionStatus.ENDED, SessionStatus.FAILED
AHEAD = ["agent-AJ_first"]  # the agent that joined the room first


WORKERS = {"spawner": spawned_call, "voxie": creation_call}


@dataclass
class Scene:
    """What a row's event acts on, once the call runs."""

    room: ScriptedRoom
    task: asyncio.Task[None]
    draining: list[bool]


def closes(reason: CloseReason, error: Exception | None = None) -> Callable[[Scene], None]:
    """The session closes itself, as LiveKit tells it: its `close` event."""

    def act(scene: Scene) -> None:
        assert scene.room.session is not None
        failure = None
        if error is not None:
            failure = llm.LLMError(
                timestamp=time.time(), label="scripted", error=error, recoverable=False
            )
        scene.room.session.emit("close", CloseEvent(reason=reason, error=failure))

    return act


def drains(scene: Scene) -> None:
    scene.draining[0] = True


def cancels(scene: Scene) -> None:
    scene.task.cancel()


@dataclass(frozen=True)
class Event:
    what: str
    expected: tuple[EndReason, SessionStatus] | None  # None: the job leaves, nothing recorded
    act: Callable[[Scene], None] | None = None  # done once the call is active
    active_first: bool = True  # wait for the call to be active before `act`
    settings: dict[str, Any] = field(default_factory=dict)
    ahead: tuple[list[str], ...] = ()  # what the room's participant lists say, in turn
    connect_error: Exception | None = None
    told: tuple[SpawnerErrorCode, ...] = ()
    raises: type[BaseException] | None = None


EVENTS = [
    Event("another agent in the room before connecting", None, ahead=(AHEAD,), active_first=False),
    Event(
        "another agent ahead right after connecting",
        (EndReason.SHUTDOWN, ENDED),
        ahead=([], AHEAD),
        active_first=False,
    ),
    Event(
        "no model configured",
        (EndReason.ERROR, FAILED),
        settings={"openai_api_key": ""},
        told=(SpawnerErrorCode.NO_MODEL_CONFIGURED,),
        active_first=False,
    ),
    Event(
        "connecting fails",
        (EndReason.ERROR, FAILED),
        connect_error=ConnectionError("no SFU"),
        raises=ConnectionError,
        active_first=False,
    ),
    Event(
        "the session closes: participant disconnected (the user hangs up)",
        (EndReason.USER_HANGUP, ENDED),
        closes(CloseReason.PARTICIPANT_DISCONNECTED),
    ),
    Event(
        "the session closes: error (the model went away)",
        (EndReason.ERROR, FAILED),
        closes(CloseReason.ERROR, ConnectionError("model gone")),
        told=(SpawnerErrorCode.MODEL_UNAVAILABLE,),
    ),
    Event(
        "the session closes: task completed",
        (EndReason.END_CALL, ENDED),
        closes(CloseReason.TASK_COMPLETED),
    ),
    Event(
        "the session closes: closed by the agent's code",
        (EndReason.END_CALL, ENDED),
        closes(CloseReason.USER_INITIATED),
    ),
    Event(
        "the session closes: job shutdown",
        (EndReason.SHUTDOWN, ENDED),
        closes(CloseReason.JOB_SHUTDOWN),
    ),
    Event(
        "the room connection ends",
        (EndReason.USER_HANGUP, ENDED),
        lambda scene: scene.room.disconnect(),
    ),
    Event(
        "the maximum duration passes",
        (EndReason.MAX_DURATION, ENDED),
        settings={"max_call_duration_s": 1.0},
        active_first=False,
    ),
    Event(
        "the worker drains",
        (EndReason.SHUTDOWN, ENDED),
        drains,
        settings={"worker_drain_timeout_s": 1},
    ),
    Event(
        "the worker cancels the job",
        (EndReason.SHUTDOWN, ENDED),
        cancels,
        raises=asyncio.CancelledError,
    ),
]


@pytest.mark.parametrize("worker", WORKERS)
@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.what)
async def test_an_event_ends_a_call_the_same_way_in_both_workers(
    worker: str, event: Event, runtime: Runtime, store: PostgresStore
) -> None:
    room = ScriptedRoom(ahead=list(event.ahead), connect_error=event.connect_error)
    draining = [False]
    settings = make_settings(**{"openai_api_key": "sk-test", **event.settings})
    call: Call = await WORKERS[worker](room, runtime, settings, store, draining=lambda: draining[0])
    task = asyncio.create_task(call.run())
    if event.active_first:
        await room.until("active")
    if event.act is not None:
        event.act(Scene(room, task, draining))
    async with asyncio.timeout(WAIT_S):
        if event.raises is not None:
            with pytest.raises(event.raises):
                await task
        else:
            await task

    sessions = (await store.list_sessions(room_name=room.name)).items
    assert room.shut_down is not None, "the job was not shut down"
    assert room.told == list(event.told)
    if event.expected is None:
        assert sessions == [] and not room.connected
        return
    [session] = sessions
    assert (session.end_reason, session.status) == event.expected
    assert session.ended_at is not None
    if session.status is FAILED:
        assert session.error
    assert room.deleted is (event.expected[0] in DELETE_ROOM_ON)
    # A call that ran was marked ending before its last writes (the pages' "Ending…"); a
    # refused one never ran.
    refused = event.settings.get("openai_api_key") == ""
    assert (session.ending_at is None) is refused


def test_every_way_livekit_closes_a_session_has_one_end_reason() -> None:
    assert set(END_OF_CLOSE) == set(CloseReason)
    for reason, expected in END_OF_CLOSE.items():
        assert end_reason_of(CloseEvent(reason=reason)) is expected


async def test_a_step_the_call_can_end_without_logs_what_it_swallows() -> None:
    async def failing() -> None:
        raise ConnectionResetError("LiveKit went away")

    with capture_logs() as logs:
        await best_effort("room_not_deleted", failing())
    assert [(log["event"], log["error"]) for log in logs] == [
        ("room_not_deleted", "ConnectionResetError: LiveKit went away")
    ]

    async def fine() -> None:
        return None

    with capture_logs() as quiet:
        await best_effort("room_not_deleted", fine())
    assert quiet == []
