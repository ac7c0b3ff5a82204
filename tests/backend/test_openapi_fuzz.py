"""Property-based fuzzing from the API's own OpenAPI document (schemathesis): whatever the
generated input — valid by the schema or deliberately not — no operation answers 5xx, and every
error is a problem document. Bounded per operation so the suite stays fast."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.schemas import APIOperation, BaseSchema

from backend.app import create_app
from backend.openapi import openapi_document
from tests.backend.conftest import OPERATOR, backend_settings
from tests.support.livekit import LiveKitDouble
from tests.support.serving import ThreadedServer

pytestmark = pytest.mark.timeout(300)
EXAMPLES_PER_MODE = 12


@pytest.fixture
def backend_url(livekit: LiveKitDouble, database_url: str) -> Iterator[str]:
    values = {"spawn_rate_per_minute": 10_000, "max_total_agents": 10_000}
    server = ThreadedServer(
        create_app(backend_settings(livekit, database_url, **values), reconcile=False),
        name="backend",
    )
    yield server.start()
    server.stop()


def operations(schema: BaseSchema) -> list[APIOperation[Any, Any, Any, Any]]:
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself must be valid
        found.append(result.ok())
    return found


def test_the_openapi_document_is_served_and_loads(backend_url: str) -> None:
    served = requests.get(f"{backend_url}/openapi.json", headers=OPERATOR, timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(openapi_document()))
    schema = schemathesis.openapi.from_dict(served.json())
    paths = {operation.path for operation in operations(schema)}
    assert "/api/agents/{agent_id}/spawn" in paths and len(paths) == 15


def test_no_generated_request_gets_a_server_error(backend_url: str) -> None:
    schema = schemathesis.openapi.from_dict(openapi_document())
    session = requests.Session()
    failures: list[str] = []

    def check(case: Case[Any]) -> None:
        response = case.call(base_url=backend_url, session=session, headers=OPERATOR, timeout=10)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
        if response.status_code >= 400:
            content_type = (response.headers.get("content-type") or [""])[0]
            if content_type != "application/problem+json":
                failures.append(f"{case.method} {case.formatted_path}: {content_type}")

    for operation in operations(schema):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode))
            def run(case: Case[Any]) -> None:
                check(case)

            try:
                run()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid form to generate.
                assert mode is GenerationMode.NEGATIVE, operation.path
    assert not failures, "\n".join(sorted(set(failures))[:20])
