"""The OpenAI Realtime model both workers build (spawned agents and Voxie): the plugin's, at
the configured endpoint, with a session that closes cleanly after its connection failed for good.

Why the subclass: in livekit-plugins-openai 1.8, when the socket cannot be opened or reopened
(endpoint unreachable, key refused, retries exhausted) the session's task ends with that error
and `RealtimeSession.aclose()` raises it again. AgentSession closes the model session inside its
own close, so the raise aborts that close and `close` is never emitted: the spawner, which ends
a call on `close`, would keep a call with a dead model until its humans leave. The error has
already been reported (the session is closing because of it), so closing only logs it.
"""

from __future__ import annotations

from livekit.plugins import openai

from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)


class RealtimeSession(openai.realtime.RealtimeSession):
    async def aclose(self) -> None:
        try:
            await super().aclose()
        except Exception as exc:  # the failure the session already emitted as its error
            log.info("realtime_session_closed_after_failure", error=repr(exc))


class RealtimeModel(openai.realtime.RealtimeModel):
    def session(self, *, turn_detection_disabled: bool = False) -> RealtimeSession:
        session = RealtimeSession(self, turn_detection_disabled=turn_detection_disabled)
        # The plugin's own bookkeeping, as its `session()` does: `update_options` reaches it.
        self._sessions.add(session)
        return session


def realtime_model(settings: Settings, *, model: str, voice: str) -> RealtimeModel:
    """A realtime model at `OPENAI_REALTIME_BASE_URL` (else `OPENAI_BASE_URL`)."""
    return RealtimeModel(
        model=model,
        voice=voice,
        # Empty: the plugin reads OPENAI_API_KEY itself (dev and tests only; refused in prod).
        api_key=settings.openai_api_key.get_secret_value() or None,
        base_url=settings.openai_base_url_for("realtime"),
    )
