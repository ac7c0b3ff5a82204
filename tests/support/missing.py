"""What a test does when a tool it needs is missing: where a developer runs the suite it skips,
saying how to get the tool; in CI (`CI` set, as `.ci/run` does) it fails. CI installs or builds
every tool the suite needs, so there a missing one is a broken machine, and a skip would let the
run pass without the tests that needed it.

    if shutil.which("redis-server") is None:
        missing("redis-server", "apt-get install redis-server (.ci/run does)")
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(what: str, how: str) -> NoReturn:
    """Skips the test that needed `what`, or fails it in CI; `how` says how to get it."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI: {how}")
    pytest.skip(f"{what} is missing: {how}")
