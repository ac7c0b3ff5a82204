"""`python -m backend`: serve the API on BACKEND_HOST:BACKEND_PORT with uvicorn."""

from __future__ import annotations

import sys

import uvicorn

from backend.app import create_app
from shared.logging import configure_logging, get_logger
from shared.settings import ConfigError, Settings

log = get_logger("backend")


def main() -> int:
    try:
        settings = Settings()
        settings.validate_for("backend")
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.backend_host,
        port=settings.backend_port,
        log_config=None,  # shared.logging renders uvicorn's lines too
        access_log=False,  # the app logs each request with its id and route
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
