"""What the platform offers: the realtime models and voices an agent (and Voxie) may use.

A leaf module — it imports nothing from the project — so both the settings (Voxie's own model
and voice) and the AgentConfig contract can check against the same lists without importing
each other.
"""

from __future__ import annotations

from collections.abc import Collection

# The OpenAI Realtime voices, each with the one-line character Voxie offers the user.
SUPPORTED_VOICES: dict[str, str] = {
    "marin": "warm, natural and clear; the most lifelike default",
    "cedar": "calm, grounded and reassuring",
    "alloy": "neutral and balanced, fits almost anything",
    "ash": "confident and direct",
    "ballad": "soft, expressive and melodic",
    "coral": "bright, friendly and upbeat",
    "echo": "smooth, steady and professional",
    "sage": "thoughtful, gentle and patient",
    "shimmer": "light, energetic and cheerful",
    "verse": "dynamic and engaging, good for storytelling",
}
DEFAULT_VOICE = "marin"

# Subset of livekit-agents' `RealtimeModels`; a test keeps them in step.
SUPPORTED_MODELS = (
    "gpt-realtime",
    "gpt-realtime-1.5",
    "gpt-realtime-2",
    "gpt-realtime-2025-08-28",
    "gpt-4o-realtime-preview",
)
DEFAULT_MODEL = "gpt-realtime"


def check_supported(what: str, value: str, supported: Collection[str]) -> str:
    """`value` if it is one of `supported`, else ValueError naming the choices."""
    if value not in supported:
        raise ValueError(f"unsupported {what} '{value}'; choose one of: {', '.join(supported)}")
    return value
