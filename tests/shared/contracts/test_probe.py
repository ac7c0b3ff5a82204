"""The probe answers workers append to a probe room's metadata, as the doctor reads them."""

from __future__ import annotations

from shared.contracts.probe import MAX_ANSWERS, ProbeAnswer, ProbeAnswers
from shared.naming import WorkerRole


def answer(deployment: str, worker_id: str = "AW_1") -> ProbeAnswer:
    return ProbeAnswer(
        worker_id=worker_id,
        agent_name="spawner-staging",
        role=WorkerRole.SPAWNER,
        deployment=deployment,
        host="web-1",
        pid=42,
    )


def test_answers_accumulate_through_the_metadata_text() -> None:
    first = ProbeAnswers.parse("").with_answer(answer("staging"))
    second = ProbeAnswers.parse(first.text()).with_answer(answer("qa", "AW_2"))
    again = ProbeAnswers.parse(second.text())
    assert [a.worker_id for a in again.answers] == ["AW_1", "AW_2"]
    assert again.deployments == ["staging", "qa"]


def test_unreadable_metadata_has_no_answers_and_the_list_is_bounded() -> None:
    for junk in ("{", "[]", '{"answers": [{"worker_id": 1}]}', "null"):
        assert ProbeAnswers.parse(junk).answers == []
    crowd = ProbeAnswers()
    for n in range(MAX_ANSWERS + 5):
        crowd = crowd.with_answer(answer("staging", f"AW_{n}"))
    assert len(crowd.answers) == MAX_ANSWERS
