from __future__ import annotations

import json
import logging
import os
import pty
import re
import sys
from collections.abc import Callable, Iterator

import pytest
import structlog
from livekit.agents.cli import cli as agents_cli

from shared.logging import (
    REDACTED,
    adopt_livekit_cli_logging,
    bind_log_context,
    configure_logging,
    get_logger,
    resolve_format,
)


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    configure_logging("info", "json")
    yield capsys
    configure_logging("warning", "console")


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_structlog_lines_are_json_with_bound_context(json_logs: pytest.CaptureFixture[str]) -> None:
    with bind_log_context(room="agent-x", agent_id="a1", job_id="AJ_1", request_id="r1"):
        get_logger("test").info("job_accepted", reason="ok")
    get_logger("test").info("outside")
    inside, outside = lines(json_logs)
    assert inside["event"] == "job_accepted" and inside["level"] == "info"
    assert {k: inside[k] for k in ("room", "agent_id", "job_id", "request_id")} == {
        "room": "agent-x",
        "agent_id": "a1",
        "job_id": "AJ_1",
        "request_id": "r1",
    }
    assert "timestamp" in inside and "room" not in outside


def test_stdlib_loggers_go_through_the_same_pipeline(json_logs: pytest.CaptureFixture[str]) -> None:
    with bind_log_context(job_id="AJ_2"):
        logging.getLogger("livekit.agents").warning("worker %s draining", "w1")
        logging.getLogger("uvicorn.error").info("started")
    first, second = lines(json_logs)
    assert first["event"] == "worker w1 draining" and first["job_id"] == "AJ_2"
    assert first["logger"] == "livekit.agents" and second["logger"] == "uvicorn.error"


def test_secret_looking_fields_are_redacted(json_logs: pytest.CaptureFixture[str]) -> None:
    get_logger("test").info(
        "connect", api_secret="s3", token="t0k", headers={"Authorization": "Bearer x"}, room="r"
    )
    logging.getLogger("livekit").info("joined", extra={"api_key": "k3y", "room": "r"})
    line, stdlib_line = lines(json_logs)
    assert stdlib_line["api_key"] == REDACTED and stdlib_line["room"] == "r"
    assert line["api_secret"] == REDACTED and line["token"] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED} and line["room"] == "r"


def test_exceptions_are_rendered_in_json(json_logs: pytest.CaptureFixture[str]) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger("test").exception("failed")
    (line,) = lines(json_logs)
    assert "RuntimeError: boom" in str(line["exception"])


def test_console_format_is_human(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "console")
    get_logger("test").info("hello", room="r1")
    out = capsys.readouterr().out
    assert "hello" in out and "room=r1" in out and not out.startswith("{")
    structlog.reset_defaults()
    configure_logging("warning", "console")


def test_auto_is_json_unless_the_lines_reach_a_terminal() -> None:
    assert resolve_format("auto", terminal=False) == "json"
    assert resolve_format("auto", terminal=True) == "console"
    assert resolve_format("json", terminal=True) == "json"
    assert resolve_format("console", terminal=False) == "console"


def test_on_a_terminal_auto_renders_one_readable_line_per_event() -> None:
    leader, follower = pty.openpty()
    with os.fdopen(follower, "w", buffering=1) as terminal, pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", terminal)
        configure_logging("info", "auto")
        get_logger("test").info("job_accepted", room="r1")
        logging.getLogger("uvicorn.error").info(
            "Started server process [%d]", 7, extra={"color_message": "\x1b[36m%d\x1b[0m"}
        )
    configure_logging("warning", "console")
    written = read_all(leader)
    assert "\x1b[" in written  # coloured: a terminal shows it
    first, second = re.sub(r"\x1b\[[0-9;]*m", "", written).splitlines()
    assert "job_accepted" in first and "room=r1" in first and not first.startswith("{")
    # uvicorn's coloured copy of its message is not a field worth a person's reading.
    assert "Started server process [7]" in second and "color_message" not in second


def read_all(leader: int) -> str:
    """What was written to a pseudo-terminal whose other side is closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other side is closed and nothing is left
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks).decode()


def cli_setup() -> Callable[..., None]:
    """The log setup the LiveKit CLI calls when it starts a worker (it looks the name up then)."""
    setup: Callable[..., None] = vars(agents_cli)["setup_logging"]
    return setup


@pytest.fixture
def livekit_cli(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The LiveKit CLI's setup as it was, and our logging, restored afterwards."""
    original = cli_setup()
    yield capsys
    vars(agents_cli)["setup_logging"] = original
    configure_logging("warning", "console")


def test_a_worker_started_by_the_livekit_cli_prints_each_line_once(
    livekit_cli: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")  # what shared.worker.run does first
    adopt_livekit_cli_logging("info", "json")  # what shared.worker.run does
    cli_setup()("INFO", devmode=False, console=False)  # what `start` then does
    logging.getLogger("livekit.agents").info("starting worker", extra={"version": "1.8"})
    (line,) = lines(livekit_cli)
    assert line["event"] == "starting worker" and line["version"] == "1.8"
    assert len(logging.getLogger().handlers) == 1


def test_the_livekit_console_mode_keeps_its_own_terminal_lines(
    livekit_cli: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")
    adopt_livekit_cli_logging("info", "json")
    cli_setup()("DEBUG", devmode=True, console=True)  # the console mode the `lk` CLI drives
    (handler,) = logging.getLogger().handlers
    assert handler.formatter is not None and "\r" in str(handler.formatter._fmt)
