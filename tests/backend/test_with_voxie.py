"""The backend and a real `python -m voxie start` process agree on the dispatch: a Voxie session
opened through the API (by a user or with the operator token) is accepted by Voxie, and its
record names the user who will own the agent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.launcher import has_entry_point
from shared.contracts.dispatch import OPERATOR_OWNER_ID
from shared.store.postgres import PostgresStore
from tests.backend.conftest import ALICE, OPERATOR, VOXIE, as_user
from tests.support.livekit import LiveKitDouble

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not has_entry_point("voxie"), reason="no voxie package on this branch"),
]


@pytest.fixture
def voxie(livekit: LiveKitDouble, database_url: str, tmp_path: Path) -> Iterator[object]:
    from tests.voxie.test_worker import VoxieProcess

    process = VoxieProcess(livekit, tmp_path, database_url, {"PLATFORM_ENV": "test"})
    yield process
    process.stop()


async def test_voxie_accepts_sessions_the_backend_opens(
    client: httpx.AsyncClient, livekit: LiveKitDouble, store: PostgresStore, voxie: object
) -> None:
    from tests.voxie.test_worker import failed_session, one_job

    await livekit.wait_for_workers(1, VOXIE, within=60)
    for headers, owner in ((as_user(ALICE), ALICE), (OPERATOR, OPERATOR_OWNER_ID)):
        response = await client.post("/api/voxie/sessions", headers=headers)
        assert response.status_code == 201, response.text
        room = response.json()["room_name"]
        job = await one_job(livekit, room)
        assert job.participant_identity, job  # accepted and assigned, not refused
        # With no SFU the session ends at ctx.connect(); its record shows who it was for.
        session = await failed_session(livekit, store, room)
        assert session.owner_id == owner
