"""The job routing rule both workers share: room kind, deployment, capacity, agent id."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from shared.contracts import DispatchMetadata, SessionKind
from shared.naming import WorkerRole, agent_room_name, probe_room_name, voxie_room_name
from shared.routing import JobOffer, Verdict, route

AGENT = uuid4()


def metadata(deployment: str = "test", agent_id: object = AGENT, kind: str = "test") -> str:
    return DispatchMetadata.model_validate(
        {"agent_id": agent_id, "deployment": deployment, "kind": kind, "requested_by": "user:1"}
    ).to_json()


def spawner(offer: JobOffer, *, at_capacity: bool = False) -> Verdict:
    decision = route(offer, role=WorkerRole.SPAWNER, deployment="test", at_capacity=at_capacity)
    return decision.verdict


def test_spawner_takes_its_rooms_and_resolves_the_agent_id() -> None:
    room = agent_room_name(AGENT)
    decision = route(
        JobOffer("AJ_1", room, json.dumps({"agent_id": str(AGENT)}), metadata()),
        role=WorkerRole.SPAWNER,
        deployment="test",
        at_capacity=False,
    )
    assert decision.accepted and decision.agent_id == AGENT
    assert decision.metadata is not None and decision.metadata.kind is SessionKind.TEST
    # With no metadata at all the room name still names the agent.
    bare = route(
        JobOffer("AJ_2", room), role=WorkerRole.SPAWNER, deployment="test", at_capacity=False
    )
    assert bare.accepted and bare.agent_id == AGENT and bare.metadata is None


@pytest.mark.parametrize("name", [voxie_room_name(), "random-room", f"agent-{AGENT}", ""])
def test_spawner_terminates_rooms_that_are_not_agent_rooms(name: str) -> None:
    decision = route(
        JobOffer("AJ", name), role=WorkerRole.SPAWNER, deployment="test", at_capacity=False
    )
    assert decision.verdict is Verdict.WRONG_ROOM and decision.terminate


@pytest.mark.parametrize("name", [agent_room_name(AGENT), "voxie-creation-x", "lobby"])
def test_voxie_terminates_rooms_that_are_not_creation_rooms(name: str) -> None:
    decision = route(
        JobOffer("AJ", name), role=WorkerRole.VOXIE, deployment="test", at_capacity=False
    )
    assert decision.verdict is Verdict.WRONG_ROOM and decision.terminate


def test_another_deployments_job_is_passed_on_not_terminated() -> None:
    offer = JobOffer("AJ", agent_room_name(AGENT), dispatch_metadata=metadata("staging"))
    decision = route(offer, role=WorkerRole.SPAWNER, deployment="test", at_capacity=False)
    assert decision.verdict is Verdict.OTHER_DEPLOYMENT and not decision.terminate


def test_a_full_replica_passes_the_job_on() -> None:
    offer = JobOffer("AJ", agent_room_name(AGENT), dispatch_metadata=metadata())
    decision = route(offer, role=WorkerRole.SPAWNER, deployment="test", at_capacity=True)
    assert decision.verdict is Verdict.AT_CAPACITY and not decision.terminate


@pytest.mark.parametrize("raw", ["{not json", '{"deployment": "test"}', "x" * 5000, "[]"])
def test_malformed_dispatch_metadata_is_terminated(raw: str) -> None:
    offer = JobOffer("AJ", agent_room_name(AGENT), dispatch_metadata=raw)
    assert spawner(offer) is Verdict.MALFORMED_METADATA


def test_agent_ids_must_agree() -> None:
    room = agent_room_name(AGENT)
    other = str(uuid4())
    assert spawner(JobOffer("AJ", room, dispatch_metadata=metadata(agent_id=other))) is (
        Verdict.AGENT_MISMATCH
    )
    assert spawner(JobOffer("AJ", room, json.dumps({"agent_id": other}))) is Verdict.AGENT_MISMATCH
    # Malformed room metadata is not a source: the others still decide.
    assert spawner(JobOffer("AJ", room, "{oops", metadata())) is Verdict.ACCEPT


def test_voxie_can_require_metadata_and_keeps_the_edit_agent_id() -> None:
    room = voxie_room_name()
    missing = route(
        JobOffer("AJ", room),
        role=WorkerRole.VOXIE,
        deployment="test",
        at_capacity=False,
        require_metadata=True,
    )
    assert missing.verdict is Verdict.MISSING_METADATA and missing.terminate
    edit = route(
        JobOffer("AJ", room, dispatch_metadata=metadata(kind="creation")),
        role=WorkerRole.VOXIE,
        deployment="test",
        at_capacity=False,
        require_metadata=True,
    )
    assert edit.accepted and edit.agent_id == AGENT


@pytest.mark.parametrize("role", list(WorkerRole))
@pytest.mark.parametrize("at_capacity", [False, True])
def test_the_doctors_probe_is_answered_and_passed_on_by_every_worker(
    role: WorkerRole, at_capacity: bool
) -> None:
    """Another deployment's metadata, a full replica: every worker still answers a probe, and
    passes it on (`terminate=False`) so LiveKit asks the next worker of the name."""
    offer = JobOffer("AJ_p", probe_room_name(), dispatch_metadata=metadata("elsewhere"))
    decision = route(offer, role=role, deployment="test", at_capacity=at_capacity)
    assert decision.verdict is Verdict.PROBE and not decision.terminate
    assert not decision.accepted
