"""The backend API as the operator's commands call it: `rooms list|close` and `gc` go through the
API with the operator token, so closing a room (telling its people why) and a reconciler pass run
the backend's one implementation, under its lease, counted in its metrics.

Base URL: `BACKEND_URL`, else `http://BACKEND_HOST:BACKEND_PORT` (a wildcard host becomes
loopback). Token: `BACKEND_ADMIN_TOKEN`, else the dev token `scripts/start` generated and kept
in `.data/operator-token`. Every call has the deadline `timeout_s`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from shared.settings import Settings
from voxiectl.local_settings import LocalFiles

DEFAULT_TIMEOUT_S = 10.0


class ApiError(Exception):
    """The backend refused or could not be reached; the message says which and why."""


def base_url(settings: Settings) -> str:
    if settings.backend_url:
        return settings.backend_url.rstrip("/")
    host = settings.backend_host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a bind address, not where to connect
        host = "127.0.0.1"
    return f"http://{host}:{settings.backend_port}"


def dev_token_path(settings: Settings) -> Path:
    """Where `voxiectl start` keeps the operator token it generates in dev."""
    return LocalFiles.of(settings).operator_token


def operator_token(settings: Settings) -> str | None:
    if settings.backend_admin_token:
        return settings.backend_admin_token.get_secret_value()
    path = dev_token_path(settings)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip() or None
    return None


class Backend:
    def __init__(self, settings: Settings, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.base = base_url(settings)
        token = operator_token(settings)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(base_url=self.base, headers=headers, timeout=timeout_s)

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ApiError(f"the backend at {self.base} did not answer in time") from None
        except httpx.TransportError as exc:
            raise ApiError(f"the backend at {self.base} is unreachable: {exc}") from None

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError(_problem(response))
        return response.json()

    async def rooms(self) -> list[dict[str, Any]]:
        body = await self.json("GET", "/api/rooms")
        items: list[dict[str, Any]] = body["items"]
        return items

    async def close_room(self, room: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.json("POST", f"/api/rooms/{quote(room, safe='')}/close")
        return result

    async def gc(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.json("POST", "/api/gc")
        return result


def _problem(response: httpx.Response) -> str:
    """An RFC 9457 problem as one line (or the status when the body is not one)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") or body.get("title") if isinstance(body, dict) else None
    if response.status_code == 401:
        detail = f"{detail or 'unauthorized'} (set BACKEND_ADMIN_TOKEN to the backend's token)"
    return f"{response.request.method} {response.request.url.path}: {response.status_code} " + (
        detail or response.reason_phrase
    )
