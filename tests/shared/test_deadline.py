"""A budget: the lesser of nested ones, inherited by tasks started inside, gone outside."""

from __future__ import annotations

import asyncio

from shared import deadline


def test_outside_any_budget_a_call_keeps_its_own_timeout() -> None:
    assert deadline.time_left() is None
    assert deadline.allowed(5.0) == 5.0


def test_a_call_gets_the_lesser_of_its_timeout_and_what_is_left() -> None:
    with deadline.budget(60):
        assert deadline.allowed(5.0) == 5.0
        left = deadline.time_left()
        assert left is not None and 0 < left <= 60
        assert deadline.allowed(3600) <= 60
    with deadline.budget(0):
        assert deadline.time_left() == 0
        assert deadline.allowed(5.0) == 0  # spent: the call must not be made
    assert deadline.time_left() is None


def test_a_nested_budget_never_extends_the_enclosing_one() -> None:
    with deadline.budget(1):
        with deadline.budget(60):
            assert deadline.allowed(3600) <= 1
        with deadline.budget(0.5):
            assert deadline.allowed(3600) <= 0.5
        assert 0.5 < deadline.allowed(3600) <= 1
    assert deadline.time_left() is None


async def test_tasks_started_inside_inherit_it_and_others_do_not_see_it() -> None:
    async def left() -> float | None:
        return deadline.time_left()

    with deadline.budget(60):
        inside = asyncio.create_task(left())
    outside = asyncio.create_task(left())
    assert (await inside or 0) > 0
    assert await outside is None
