from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from shared.logging import REDACTED, bind_log_context, configure_logging, get_logger


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
