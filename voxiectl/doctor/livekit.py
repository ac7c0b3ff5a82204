"""The LiveKit checks: the server accepts these credentials; the backend accepts a webhook signed
with them (a test event, as LiveKit would send it); and LiveKit really delivers its webhooks to
that backend (the probe rooms' `room_started`, counted in the backend's metrics)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from datetime import timedelta

import httpx
from livekit import api
from prometheus_client.parser import text_string_to_metric_families

from shared.naming import probe_room_name
from shared.rooms import LiveKitError, LiveKitRefused, LiveKitRooms
from voxiectl.api import ApiError, Backend, base_url
from voxiectl.doctor.report import Check, Report, Status

# The backend's webhook counter (backend/metrics.py) and how long LiveKit gets to deliver.
WEBHOOKS_METRIC = "voxie_backend_webhooks_total"
DELIVERY_WAIT_S = 5.0


async def livekit(report: Report, rooms: LiveKitRooms) -> bool | None:
    """True when LiveKit answers with these credentials (None: the later checks are skipped)."""
    s = report.settings
    began = time.monotonic()
    try:
        listed = await rooms.list_rooms()
    except LiveKitRefused as exc:
        report.add(
            Check(
                "livekit",
                Status.FAIL,
                f"{s.livekit_url} refused these credentials ({exc}): LIVEKIT_API_KEY "
                "or LIVEKIT_API_SECRET is wrong",
                "set LIVEKIT_API_KEY / LIVEKIT_API_SECRET to a key pair the server's `keys:` lists",
            )
        )
        return None
    except LiveKitError as exc:
        report.add(
            Check(
                "livekit",
                Status.FAIL,
                f"{s.livekit_url}: {exc}",
                "start LiveKit or correct LIVEKIT_URL",
            )
        )
        return None
    took = (time.monotonic() - began) * 1000
    report.add(
        Check(
            "livekit",
            Status.PASS,
            f"{s.livekit_url} accepts key {s.livekit_api_key} ({len(listed)} rooms, {took:.0f} ms)",
            data={"rooms": len(listed), "ms": round(took, 1)},
        )
    )
    return True


def unconfigured() -> Check:
    return Check(
        "livekit",
        Status.FAIL,
        "no LiveKit credentials: LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not set, "
        "and no local server's keys were found",
        "set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET, or run scripts/start "
        "(it runs a local livekit-server and keeps its keys in .data/livekit/keys)",
    )


async def webhook(report: Report) -> None:
    """A signed test event, as LiveKit would send it, must be accepted by the backend: the
    backend verifies with its own key pair, so a 401 means the two differ."""
    s = report.settings
    url = f"{base_url(s)}/api/livekit/webhook"
    event = {
        "event": "room_started",
        "id": f"EV_doctor_{int(time.time() * 1000)}",
        "createdAt": str(int(time.time())),
        "room": {"name": probe_room_name()},  # not a platform room: nothing acts on it
    }
    body = json.dumps(event)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    token = (
        api.AccessToken(s.livekit_api_key, s.livekit_api_secret.get_secret_value())
        .with_sha256(digest)
        .with_ttl(timedelta(minutes=5))
        .to_jwt()
    )
    headers = {"Authorization": token, "Content-Type": "application/webhook+json"}
    began = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=report.options.http_timeout_s) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        report.add(
            Check(
                "webhook",
                Status.FAIL,
                f"the backend at {url} is unreachable ({type(exc).__name__})",
                "start the backend (`python -m backend`) or set BACKEND_URL to where it runs",
            )
        )
        return
    took = (time.monotonic() - began) * 1000
    if response.status_code == 200:
        report.add(
            Check(
                "webhook",
                Status.PASS,
                f"a signed test event was accepted by {url} ({took:.0f} ms); LiveKit must "
                "send its webhooks there (`webhook.urls` in its config)",
                data={"url": url, "ms": round(took, 1)},
            )
        )
    elif response.status_code == 401:
        report.add(
            Check(
                "webhook",
                Status.FAIL,
                f"{url} refused a event signed with key {s.livekit_api_key}: the backend "
                "has another LiveKit key pair, so it refuses LiveKit's real webhooks too",
                "give the backend the LIVEKIT_API_KEY / LIVEKIT_API_SECRET LiveKit signs with",
            )
        )
    else:
        report.add(
            Check(
                "webhook",
                Status.FAIL,
                f"{url} answered {response.status_code}: {response.text[:200]}",
                "read the backend's log for this request; it must answer 200",
            )
        )


async def webhooks_received(report: Report) -> float | None:
    """The backend's count of LiveKit's `room_started` webhooks (None: not readable)."""
    try:
        async with Backend(report.settings, timeout_s=report.options.http_timeout_s) as backend:
            response = await backend.call("GET", "/metrics")
    except ApiError:
        return None
    if response.status_code != 200:
        return None
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == WEBHOOKS_METRIC and sample.labels.get("event") == "room_started":
                return sample.value
    return 0.0


async def delivery(report: Report, before: float | None) -> None:
    """The probe rooms were created on LiveKit: LiveKit sends `room_started` to its webhook
    URLs. The backend counting them proves LiveKit's `webhook.urls` points at it."""
    if before is None:
        report.skip("webhook delivery", "the backend's /metrics is not readable as operator")
        return
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while time.monotonic() < deadline:
        now = await webhooks_received(report)
        if now is not None and now > before:
            report.add(
                Check(
                    "webhook delivery",
                    Status.PASS,
                    "LiveKit delivered the probe rooms' room_started events to the backend",
                )
            )
            return
        await asyncio.sleep(0.2)
    report.add(
        Check(
            "webhook delivery",
            Status.WARN,
            f"the backend at {base_url(report.settings)} received no room_started webhook for "
            f"the probe rooms within {DELIVERY_WAIT_S:g} s (with several backend replicas "
            "another one may have): LiveKit's webhook.urls may not point at it",
            "set LiveKit's `webhook: {api_key: <LIVEKIT_API_KEY>, urls: "
            "[<backend>/api/livekit/webhook]}`",
        )
    )
