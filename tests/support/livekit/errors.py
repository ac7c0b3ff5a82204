"""Twirp errors as the LiveKit server writes them: JSON `{"code", "msg"}` with Twirp's status."""

from __future__ import annotations

import json
from typing import Final

from starlette.responses import Response

# Twirp's fixed code → HTTP status table (twitchtv/twirp errors.go).
TWIRP_STATUS: Final[dict[str, int]] = {
    "canceled": 408,
    "unknown": 500,
    "invalid_argument": 400,
    "malformed": 400,
    "deadline_exceeded": 408,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "unauthenticated": 401,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "dataloss": 500,
}

# The server's own messages for the errors the double produces (livekit-server pkg/service).
ROOM_NOT_FOUND: Final = "requested room does not exist"
PARTICIPANT_NOT_FOUND: Final = "participant does not exist"
PERMISSIONS_DENIED: Final = "permissions denied"
MAX_ROOM_NAME_LENGTH: Final = 256
MAX_METADATA_SIZE: Final = 64000


class TwirpError(Exception):
    """An error answered as Twirp JSON; `status` follows from `code`."""

    def __init__(self, code: str, msg: str, meta: dict[str, str] | None = None) -> None:
        if code not in TWIRP_STATUS:
            raise ValueError(f"not a Twirp error code: {code!r}")
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.meta = meta or {}

    @property
    def status(self) -> int:
        return TWIRP_STATUS[self.code]

    def response(self) -> Response:
        body: dict[str, object] = {"code": self.code, "msg": self.msg}
        if self.meta:
            body["meta"] = self.meta
        return Response(json.dumps(body), self.status, media_type="application/json")


def room_not_found() -> TwirpError:
    return TwirpError("not_found", ROOM_NOT_FOUND)


def permissions_denied() -> TwirpError:
    # The real server answers a missing or wrong grant with `unauthenticated`, not
    # `permission_denied` (pkg/service/auth.go, twirpAuthError).
    return TwirpError("unauthenticated", PERMISSIONS_DENIED)


class JoinRefused(Exception):
    """The double's stand-in for the signalling error a client would get when joining."""
