"""The models and voices the platform offers, and the leaf modules of `shared` (the import graph
of the whole project: tests/test_layers.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from livekit.agents.llm._realtime.openai_types import RealtimeModels

from shared.catalog import DEFAULT_MODEL, DEFAULT_VOICE, SUPPORTED_MODELS, SUPPORTED_VOICES

ROOT = Path(__file__).resolve().parents[2]


def test_the_models_are_a_subset_of_livekits_realtime_models() -> None:
    assert set(SUPPORTED_MODELS) <= set(get_args(RealtimeModels))
    assert DEFAULT_MODEL in SUPPORTED_MODELS and DEFAULT_VOICE in SUPPORTED_VOICES


def test_every_voice_has_a_character_line() -> None:
    assert all(line and len(line) < 80 for line in SUPPORTED_VOICES.values())


@pytest.mark.parametrize("module", ["shared.naming", "shared.catalog"])
def test_leaf_modules_import_only_the_standard_library(module: str) -> None:
    probe = (
        f"import sys; import {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('shared', 'pydantic', 'pydantic_settings', 'livekit')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == repr(sorted({"shared", module}))
