"""Container health check: `python healthcheck.py [backend|worker]`, exit 0 healthy, 1 not.

backend  GET /healthz on BACKEND_PORT must answer 200
worker   GET / on WORKER_HTTP_PORT (the LiveKit Agents health server) must answer 200; it says
         503 when the worker lost LiveKit
(none)   the image's own HEALTHCHECK, which does not know the role the container was started
         with: whichever of the two ports accepts connections is checked; neither is unhealthy

Standard library only, each request bounded by TIMEOUT_S, so a hung server fails the check
instead of hanging it.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 3.0
# role -> (the port's variable, its default in the image, the path that answers 200 when healthy)
CHECKS = {
    "backend": ("BACKEND_PORT", "8000", "/healthz"),
    "worker": ("WORKER_HTTP_PORT", "8081", "/"),
}


def probe(role: str) -> tuple[bool | None, str]:
    """(True, why) healthy, (False, why) answered but unhealthy, (None, why) nothing listens."""
    variable, default, path = CHECKS[role]
    port = os.environ.get(variable) or default
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ConnectionRefusedError):
            return None, f"{url}: nothing listening"
        return False, f"{url}: {reason}"


def main(argv: list[str]) -> int:
    roles = argv or list(CHECKS)
    unknown = [role for role in roles if role not in CHECKS]
    if unknown:
        print(f"usage: healthcheck.py [backend|worker] (got {unknown[0]!r})", file=sys.stderr)
        return 2
    reasons = []
    for role in roles:
        healthy, why = probe(role)
        reasons.append(why)
        if healthy is not None:
            print(why)
            return 0 if healthy else 1
    print("; ".join(reasons))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
