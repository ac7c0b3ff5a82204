"""`python -m voxie start|dev|console`: the Voxie worker under the LiveKit Agents CLI."""

from __future__ import annotations

import sys

from shared.settings import ConfigError


def main() -> None:
    try:
        from voxie.worker import server
    except ConfigError as exc:
        # Refused settings are the operator's to fix: say which, without a traceback.
        print(f"voxie: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    from livekit.agents import cli

    cli.run_app(server)


if __name__ == "__main__":
    main()
