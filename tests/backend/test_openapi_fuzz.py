"""The OpenAPI document against the running API with schemathesis and every check it has
(`st run --checks all`: server errors, status codes, content types, response schemas and headers,
schema-valid requests accepted, schema-violating ones refused, unsupported methods and `Allow`,
authentication, use after delete, …). Bounded examples and a fixed seed keep it short and
repeatable; any drift between the document and the handlers fails it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.core.result import Ok

from backend.app import OPERATIONS, create_app
from backend.operations import openapi_document
from shared.secret_box import new_key
from tests.backend.conftest import ADMIN_TOKEN, OPERATOR, backend_settings
from tests.support.livekit import LiveKitDouble
from tests.support.serving import ThreadedServer

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
# FUZZ_SEED explores other inputs by hand; the build runs the fixed one.
SEED = int(os.environ.get("FUZZ_SEED", "20261201"))


async def public_resolver(host: str, port: int) -> list[str]:
    """Every tool host a public address: the generated URLs name hosts no DNS here knows."""
    return ["93.184.215.14"]


@pytest.fixture
def backend_url(livekit: LiveKitDouble, database_url: str) -> Iterator[str]:
    values = {
        "spawn_rate_per_minute": 10_000,
        "max_total_agents": 10_000,
        "secrets_keys": [new_key()],  # the secrets API in use, not answering 503
        "api_key_hash_keys": [new_key()],  # likewise the API keys
    }
    app = create_app(
        backend_settings(livekit, database_url, **values),
        reconcile=False,
        resolve=public_resolver,
    )
    server = ThreadedServer(app, name="backend")
    yield server.start()
    server.stop()


def test_the_document_is_served_and_every_operation_loads(backend_url: str) -> None:
    served = requests.get(f"{backend_url}/openapi.json", headers=OPERATOR, timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(openapi_document(OPERATIONS)))
    schema = schemathesis.openapi.from_dict(served.json())
    labels = set()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        labels.add(f"{result.ok().method.upper()} {result.ok().path}")
    assert labels == {f"{op.method} {op.path}" for op in OPERATIONS}


def test_every_route_is_a_documented_operation() -> None:
    app = create_app(backend_settings(None, None), reconcile=False)
    documented: dict[str, Any] = app.state.openapi["paths"]
    for route in app.routes:
        methods = {m for m in getattr(route, "methods", set()) if m != "HEAD"}
        path = getattr(route, "path", "")
        assert methods == {m.upper() for m in documented[path]}, path


def test_schemathesis_finds_no_drift_with_all_checks(backend_url: str, tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis' CLI is part of the test dependencies"
    run = subprocess.run(
        [
            st,
            "run",
            f"{backend_url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.backend.schemathesis_hooks",
            "PYTHONPATH": str(ROOT),
        },
        cwd=ROOT,
        timeout=240,
        check=False,
    )
    (tmp_path / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-12_000:] + run.stderr[-2_000:]
