"""The person at the dashboard: Debian's chromium driven by Playwright (Python), its fake
microphone playing a WAV made here, and the checks every page gets — no console errors, no
serious or critical axe-core violations, screenshots at desktop and phone width, and at phone
width no sideways scrolling.

Playwright never downloads a browser here: it launches /usr/bin/chromium (`.ci/run` installs it)
with DESIGN.md's flags. The fake microphone starts playing its file at `getUserMedia` and plays
it once (`%noloop`), so a file leads with silence long enough for the agent to join and greet,
then speaks; each browser launch gets one file.
"""

from __future__ import annotations

import re
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from playwright.async_api import Browser, ConsoleMessage, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from tests.support.human import SAMPLE_RATE, speech_wav

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
DIST = ROOT / "dashboard" / "dist"
# Screenshots and logs of the browser tests, for a person to look at (git-ignored).
ARTIFACTS = ROOT / ".test-artifacts" / "dashboard"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SERIOUS = ("serious", "critical")


def flags(microphone: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}%noloop",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--allow-loopback-in-peer-connection",
    ]


def microphone_wav(path: Path, text: str | None, *, lead_s: float, tail_s: float = 4.0) -> Path:
    """`lead_s` of silence, `text` spoken by espeak-ng (none: silence only), then `tail_s` of
    silence, so the model's VAD sees the turn end; mono 16-bit PCM at 48 kHz."""
    pieces = [np.zeros(int(lead_s * SAMPLE_RATE), dtype=np.int16)]
    if text is not None:
        spoken = speech_wav(path.with_suffix(".speech.wav"), text)
        with wave.open(str(spoken), "rb") as wav:
            pieces.append(np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16))
    pieces.append(np.zeros(int(tail_s * SAMPLE_RATE), dtype=np.int16))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.concatenate(pieces).tobytes())
    return path


def check_prerequisites() -> None:
    """What the browser tests need beyond .venv, each named with how to get it."""
    if not CHROMIUM.exists():
        raise AssertionError("chromium is not installed: sudo apt-get install chromium")
    if not (DIST / "index.html").is_file():
        raise AssertionError("the dashboard is not built: run scripts/bootstrap (needs Node.js 20)")
    if not AXE.is_file():
        raise AssertionError("dashboard/node_modules has no axe-core: run scripts/bootstrap")


@asynccontextmanager
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as running:
        yield running


@asynccontextmanager
async def chromium(pw: Playwright, microphone: Path) -> AsyncIterator[Browser]:
    browser = await pw.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=flags(microphone)
    )
    try:
        yield browser
    finally:
        await browser.close()


@dataclass
class Visit:
    """One tab of the dashboard with what it logged; `allow` holds the console errors a step
    expects (a refused request is logged by Chromium as a failed resource load)."""

    page: Page
    base: str
    name: str
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    @classmethod
    async def open(cls, browser: Browser, base: str, name: str) -> Visit:
        context = await browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
        page = await context.new_page()
        visit = cls(page, base, name)
        page.on("console", visit._console)
        page.on("pageerror", lambda error: visit.errors.append(f"page error: {error}"))
        page.set_default_timeout(30_000)
        return visit

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    async def goto(self, route: str) -> None:
        await self.page.goto(f"{self.base}/#{route}")

    async def check(self, label: str) -> None:
        """The page as it is now: no console errors so far, no serious or critical axe-core
        violations, screenshots at desktop and phone width, and no wider than a phone there."""
        assert not self.unexpected_errors(), f"{label}: console errors {self.unexpected_errors()}"
        violations = await axe_violations(self.page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            await self.page.set_viewport_size(viewport)  # type: ignore[arg-type]
            shot = ARTIFACTS / f"{self.name}-{label}-{width}.png"
            await self.page.screenshot(path=str(shot), full_page=True)
            self.shots.append(shot)
            if width == "phone":
                overflow = await sideways_overflow(self.page)
                assert overflow == 0, f"{label}: {overflow} px wider than a phone (see {shot})"
                violations += [
                    {**v, "id": f"{v['id']} (phone width)"} for v in await axe_violations(self.page)
                ]
        await self.page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
        assert not violations, f"{label}: axe-core violations:\n" + describe(violations)

    async def failed(self) -> None:
        """The page as a failing step left it, for the report (best effort)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            await self.page.screenshot(path=str(ARTIFACTS / f"FAILED-{self.name}.png"))
        except PlaywrightError:  # a closed page has nothing to show
            return

    async def close(self) -> None:
        await self.page.context.close()


async def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: it does not scroll sideways)."""
    overflow: int = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => (await window.axe.run(document, {resultTypes: ['violations']}))
              .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                     targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return [v for v in found if v["impact"] in SERIOUS]


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'])}" for v in violations
    )
