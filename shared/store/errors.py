"""The store's domain errors: the only exceptions a store method raises.

Raw client errors (asyncpg, postgrest, httpx) are translated at the store's edge, so callers
handle one vocabulary whichever store is configured.
"""

from __future__ import annotations

from uuid import UUID


class StoreError(Exception):
    """Base of every store error."""


class NotFound(StoreError):
    """No such row, or not one the caller may see. `hint` may suggest what was meant."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class Conflict(StoreError):
    """The write collides with existing state: a taken slug, a stale version."""

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class InvalidInput(StoreError):
    """The request is malformed (a bad UUID, a value the contract or the schema refuses)."""


class UnreadableAgent(InvalidInput):
    """A stored agent row fails the contract (written around it: by hand, by an old version).

    It is never run and never returned as an AgentConfig; lists skip it (`Page.unreadable`),
    and the operator reads it raw (`AgentStore.get_agent_row`), archives or deletes it.
    """

    def __init__(self, agent_id: UUID, reason: str) -> None:
        super().__init__(f"stored agent {agent_id} fails validation: {reason}")
        self.agent_id = agent_id
        self.reason = reason


class StoreUnavailable(StoreError):
    """The database could not be reached or failed; retrying later may succeed."""


class StoreTimedOut(StoreUnavailable):
    """The database did not answer in time (frozen, overloaded, a network that drops packets)."""


class NothingToPublish(Conflict):
    """A publish of a draft that equals the published version: there is nothing new to run."""


class DraftNotPublishable(InvalidInput):
    """The draft would not run (no instructions, …): it cannot be published."""
