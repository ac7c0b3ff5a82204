"""The `AgentStore` protocol: the system of record every component uses.

Two implementations, chosen at the entry point by `open_store(settings)`: `PostgresStore`
(asyncpg on DATABASE_URL or the local embedded server) and `SupabaseStore` (supabase-py's REST
client with the service-role key). Both validate with the same contracts and raise only the
errors of `shared.store.errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from shared import portable_json
from shared.contracts import (
    AgentConfig,
    AgentFields,
    AgentPatch,
    CallSession,
    CallTurn,
    EndReason,
    NewAgent,
    NewCallSession,
    SessionKind,
    SessionStatus,
    TokenUsage,
)
from shared.contracts.analytics import AnalyticsWindow, CallAnalytics
from shared.contracts.api_keys import StoredApiKey
from shared.contracts.secrets import EgressPolicy, StoredSecret
from shared.contracts.versions import AgentVersion
from shared.contracts.webhooks import Attempt, DeliveryInfo, DueDelivery, EventType, StoredWebhook
from shared.contracts.workers import WorkerBeat, WorkerHeartbeat
from shared.logging import get_logger
from shared.naming import InvalidSlug, closest_slugs, normalize_slug, validate_slug
from shared.store.errors import Conflict, InvalidInput, NotFound, UnreadableAgent
from shared.validation import describe_validation_error, excerpt

log = get_logger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

if TYPE_CHECKING:
    from _typeshed import SupportsKeysAndGetItem

    # An asyncpg Record or a PostgREST JSON object: column name → value.
    Row: TypeAlias = SupportsKeysAndGetItem[str, Any]

MAX_PAGE_SIZE = 200
# Deeper pages are not worth a scan: the API refuses offsets past this.
MAX_PAGE_OFFSET = 1_000_000
# The agents columns a user may set: exactly the contract's editable fields.
AGENT_COLUMNS: tuple[str, ...] = tuple(AgentFields.model_fields)
# `call_turns` columns a turn is read from (the table also holds its session's keys).
TURN_COLUMNS = ",".join(CallTurn.model_fields)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    # Rows of this page that fail the contract: left out of `items` (still in `total`).
    unreadable: tuple[UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class CallStats:
    """An agent's calls as its list shows them: test and live sessions, not Voxie's."""

    last_call_at: datetime | None = None
    calls_7d: int = 0


class AgentStore(Protocol):
    # agents
    async def get_agent(self, agent_id: UUID | str, *, owner_id: UUID | None = None) -> AgentConfig:
        """The agent, or NotFound (also when `owner_id` is given and is not its owner)."""

    async def get_agent_by_slug(self, owner_id: UUID, slug: str) -> AgentConfig:
        """By slug, normalised first; NotFound carries a "did you mean" hint for near misses."""

    async def list_agents(
        self,
        owner_id: UUID | None,
        *,
        limit: int = 50,
        offset: int = 0,
        include_archived: bool = False,
        search: str | None = None,
    ) -> Page[AgentConfig]:
        """Newest first; `owner_id=None` lists every owner's (operators). `search` keeps the
        agents it matches (`shared.store.search`: name, slug or voice, and with `owner_id=None`
        an owner-id prefix) and `total` counts them; InvalidInput if it is over
        MAX_SEARCH_LENGTH or holds a NUL."""

    async def agent_call_stats(self, agent_ids: Sequence[UUID]) -> dict[UUID, CallStats]:
        """Each agent's last call and its calls in the last 7 days, for a whole page in one
        query (the rule is the SQL function `agent_call_stats`); an agent without calls, or
        unknown, gets `CallStats()`."""

    async def agent_names(
        self, agent_ids: Sequence[UUID], *, owner_id: UUID | None = None
    ) -> dict[UUID, str]:
        """The names of the agents among `agent_ids` (archived ones too), for a whole page in
        one query; an unknown id, or one `owner_id` (if given) does not own, is left out. The
        name column alone is read, so an agent that fails the contract still has its name."""

    async def create_agent(self, new: NewAgent) -> AgentConfig:
        """Conflict when the owner already has a live agent with that slug."""

    async def update_agent(
        self,
        agent_id: UUID | str,
        patch: AgentPatch,
        *,
        expected_version: int,
        owner_id: UUID | None = None,
    ) -> AgentConfig:
        """Applies `patch` if the stored version is `expected_version`, else Conflict."""

    async def get_agent_row(
        self, agent_id: UUID | str, *, owner_id: UUID | None = None
    ) -> dict[str, Any]:
        """The stored row as JSON values, unvalidated: how an operator reads an agent that
        fails the contract (UnreadableAgent everywhere else). NotFound as `get_agent`."""

    async def archive_agent(
        self, agent_id: UUID | str, *, owner_id: UUID | None = None
    ) -> AgentConfig:
        """Sets status archived (idempotent); the row and its sessions stay. The archive is
        written even when the row fails the contract; UnreadableAgent says so afterwards."""

    async def delete_agent(self, agent_id: UUID | str, *, owner_id: UUID | None = None) -> None:
        """Removes the row; its sessions keep their records with agent_id unset."""

    # agent versions (deploy/.../*_agent_versions.sql; shared/store/versions.py)
    async def publish_version(
        self,
        agent_id: UUID | str,
        *,
        published_by: str,
        note: str = "",
        owner_id: UUID | None = None,
    ) -> AgentVersion:
        """Snapshots the draft as the agent's next version and publishes it. DraftNotPublishable
        if the draft would not run, NothingToPublish if it equals the published version,
        Conflict if it changed while being checked, NotFound if missing, foreign or archived."""

    async def list_versions(
        self,
        agent_id: UUID | str,
        *,
        owner_id: UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[AgentVersion]:
        """Newest first."""

    async def get_version(
        self, agent_id: UUID | str, version: int, *, owner_id: UUID | None = None
    ) -> AgentVersion:
        """NotFound if the agent (the owner's) has no such version."""

    async def rollback_version(
        self,
        agent_id: UUID | str,
        version: int,
        *,
        rolled_back_by: str,
        owner_id: UUID | None = None,
    ) -> AgentConfig:
        """Points the agent's `published_version` at its existing `version` (one row changed,
        logged in `agent_rollbacks` with who and when); the agent after. NotFound if the agent
        or the version is missing, or the agent is archived."""

    # sessions
    async def start_session(self, new: NewCallSession) -> CallSession:
        """Records a started call; a repeated start with the same id returns the existing row,
        and one with a `job_id` claims it for that job if it is open and no job has it yet (the
        backend opens a test call's row with its room; the worker that takes the job records
        itself on it). Nothing else of an existing row changes: the backend's owner and version
        stand. The caller sees in the row returned whether the claim was its."""

    async def finish_session(
        self,
        session_id: UUID | str,
        *,
        end_reason: EndReason,
        status: SessionStatus = SessionStatus.ENDED,
        error: str | None = None,
        ended_at: datetime | None = None,
    ) -> CallSession:
        """Closes an open session; an already closed one is returned unchanged (first end
        wins), except that a worker's end replaces one the backend inferred (`end_replaces`)."""

    async def mark_ending(self, session_id: UUID | str) -> None:
        """The open session began to end (`ending_at`, the first time only); a closed or
        unknown one is left as it is."""

    async def get_session(self, session_id: UUID | str) -> CallSession: ...

    async def list_sessions(
        self,
        *,
        agent_id: UUID | None = None,
        owner_id: UUID | None = None,
        room_name: str | None = None,
        kind: SessionKind | None = None,
        open_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[CallSession]:
        """Sessions newest first, every given filter applied (AND); `total` counts all the
        matching rows, not just this page."""

    async def write_transcript(
        self, session_id: UUID | str, items: Sequence[dict[str, Any]], summary: str | None = None
    ) -> None:
        """Stores (or replaces) the session's transcript and summary."""

    async def write_usage(self, session_id: UUID | str, usage: Sequence[TokenUsage]) -> None:
        """Stores (or replaces) the per-model usage of the session."""

    async def get_transcript(
        self, session_id: UUID | str
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    async def get_usage(self, session_id: UUID | str) -> list[TokenUsage]: ...

    async def write_turns(self, session_id: UUID | str, turns: Sequence[CallTurn]) -> None:
        """Stores (or replaces) the session's turns, by turn number: written twice, kept once."""

    async def get_turns(self, session_id: UUID | str) -> list[CallTurn]:
        """The session's turns in order."""

    # analytics (shared/store/analytics.py, the SQL function `agent_call_analytics`)
    async def call_analytics(self, agent_id: UUID, window: AnalyticsWindow) -> CallAnalytics:
        """The agent's calls started in the window, grouped as it asks; costs unset (the
        caller prices them: `shared.pricing`). An agent without calls has empty groups."""

    # leases (singleton background work)
    async def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """True if `holder` now holds `name` (taken free or expired, or renewed)."""

    async def renew_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """True if `holder` still held `name` and it was extended."""

    async def release_lease(self, name: str, holder: str) -> bool: ...

    # agent slots: MAX_TOTAL_AGENTS held across replicas (deploy/.../*_agent_slots.sql)
    async def reserve_agent_slot(
        self, room: str, *, cap: int, listed: Sequence[str], ttl_s: float
    ) -> bool:
        """True if a slot for agent room `room` is now held: fewer than `cap` rooms were reserved
        or listed by LiveKit (`listed`), counted once each; atomic across processes."""

    async def release_agent_slot(self, room: str) -> bool:
        """Frees `room`'s slot; False if it held none (already released or expired)."""

    async def release_agent_slots_except(self, live: Sequence[str], *, older_than_s: float) -> int:
        """Frees the slots older than `older_than_s` of rooms not in `live`; how many."""

    # worker heartbeats (shared.contracts.workers, deploy/.../*_worker_heartbeats.sql)
    async def worker_heartbeat(self, beat: WorkerBeat, *, ttl_s: float) -> None:
        """Records that the worker is alive, and how full, for `ttl_s` seconds from now."""

    async def worker_gone(self, worker_id: str) -> bool:
        """The worker stopped: its row is removed; False if it had none."""

    async def live_workers(self) -> list[WorkerHeartbeat]:
        """Every worker whose heartbeat has not expired, oldest registration first."""

    # lifecycle
    # owner secrets and egress (shared.contracts.secrets, shared.store.secrets): values are
    # sealed by the caller (shared.secret_box) and stay sealed here.
    async def create_secret(
        self, owner_id: UUID, name: str, hosts: Sequence[str], ciphertext: str
    ) -> StoredSecret:
        """Conflict when the owner has a secret of that name; TooManySecrets (a Conflict) at
        MAX_SECRETS_PER_OWNER."""

    async def list_secrets(self, owner_id: UUID) -> list[StoredSecret]:
        """The owner's secrets by name (sealed: the API shows only their `info()`)."""

    async def delete_secret(self, owner_id: UUID, name: str) -> None:
        """NotFound when the owner has no such secret."""

    async def use_secrets(self, owner_id: UUID, names: Sequence[str]) -> list[StoredSecret]:
        """The owner's secrets among `names` (a missing one is left out), marked used (at most
        once a minute each): the spawner's read before a tool request."""

    async def reseal_secret(self, owner_id: UUID, name: str, old: str, new: str) -> bool:
        """Replaces the sealed value `old` by `new` (key rotation); False if it changed since."""

    async def all_secrets(self) -> list[StoredSecret]:
        """Every owner's secrets, sealed: for key rotation only."""

    async def get_egress(self, owner_id: UUID) -> EgressPolicy:
        """The owner's internal-address exemptions; none (`allow == []`) when never set."""

    async def set_egress(
        self, owner_id: UUID, allow: Sequence[str], *, updated_by: str
    ) -> EgressPolicy:
        """Replaces the owner's exemptions."""

    # API keys (shared.contracts.api_keys, shared.store.api_keys): only keyed hashes come in,
    # and no hash goes out.
    async def create_api_key(
        self, owner_id: UUID, name: str, prefix: str, key_hash: str
    ) -> StoredApiKey:
        """TooManyApiKeys (a Conflict) at MAX_API_KEYS_PER_OWNER."""

    async def list_api_keys(self, owner_id: UUID) -> list[StoredApiKey]:
        """The owner's keys, oldest first."""

    async def delete_api_key(self, key_id: UUID, owner_id: UUID | None) -> StoredApiKey:
        """Revokes (deletes) the key; `owner_id` None: whoever's it is (the operator). NotFound
        when there is no such key of that owner's."""

    async def use_api_key(self, key_hashes: Sequence[str]) -> StoredApiKey | None:
        """The key whose hash is one of `key_hashes` (one per hash key, for rotation), marked
        used at most once a minute; None when there is none (revoked or never issued)."""

    # Event webhooks (shared.contracts.webhooks, shared.store.webhooks): events and deliveries
    # are written by the database with the call's change; these read them and record attempts.
    async def create_webhook(
        self,
        endpoint_id: UUID,
        owner_id: UUID,
        url: str,
        events: list[EventType],
        secret_sealed: str,
    ) -> StoredWebhook: ...

    async def list_webhooks(self, owner_id: UUID) -> list[StoredWebhook]:
        """The owner's endpoints, oldest first."""

    async def get_webhook(self, endpoint_id: UUID, owner_id: UUID | None) -> StoredWebhook:
        """NotFound unless it exists (and is `owner_id`'s, unless None: the operator)."""

    async def update_webhook(
        self, endpoint_id: UUID, owner_id: UUID | None, changes: dict[str, Any]
    ) -> StoredWebhook:
        """`changes`: any of url, events, enabled, secret_sealed. Enabling clears the reason it
        was disabled for."""

    async def delete_webhook(self, endpoint_id: UUID, owner_id: UUID | None) -> None:
        """Deletes the endpoint and its deliveries; NotFound as `get_webhook`."""

    async def list_webhook_deliveries(
        self, endpoint_id: UUID, *, limit: int = 50, offset: int = 0
    ) -> Page[DeliveryInfo]:
        """The endpoint's deliveries, newest first."""

    async def resend_webhook_delivery(self, endpoint_id: UUID, delivery_id: UUID) -> DeliveryInfo:
        """The endpoint's delivery due again now (the same event, the same id); NotFound when
        the endpoint has no such delivery."""

    async def take_webhook_deliveries(self, limit: int, hold_s: float) -> list[DueDelivery]:
        """Up to `limit` due deliveries to enabled endpoints, each held for `hold_s` (not due
        again until then, so a sender that dies mid-send leaves them for the next)."""

    async def record_webhook_attempt(self, delivery_id: UUID, attempt: Attempt) -> None:
        """Records one attempt (see `Attempt`); an endpoint failing for too long is disabled."""

    async def ping(self) -> None:
        """Raises StoreUnavailable unless the database answers."""

    async def close(self) -> None: ...


# --- helpers both implementations share --------------------------------------------------------


def call_stats_from_rows(agent_ids: Sequence[UUID], rows: Sequence[Row]) -> dict[UUID, CallStats]:
    found = {
        UUID(str(row["agent_id"])): CallStats(
            last_call_at=_timestamp(row["last_call_at"]), calls_7d=int(row["calls_7d"])
        )
        for row in rows
    }
    return {agent_id: found.get(agent_id, CallStats()) for agent_id in agent_ids}


def _timestamp(value: Any) -> datetime | None:
    """A timestamptz from asyncpg (a datetime) or PostgREST (ISO text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def workers_from_rows(rows: Sequence[Row]) -> list[WorkerHeartbeat]:
    """Live worker rows, oldest registration first (PostgREST does not promise a function's
    row order)."""
    workers = [WorkerHeartbeat.model_validate(dict(row)) for row in rows]
    return sorted(workers, key=lambda w: (w.registered_at, w.worker_id))


def parse_uuid(value: UUID | str, what: str = "id") -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{what} '{excerpt(value)}' is not a UUID") from None


def canonical_slug(slug: str) -> str:
    try:
        return validate_slug(normalize_slug(slug))
    except InvalidSlug as exc:
        raise InvalidInput(str(exc)) from None


def slug_not_found(slug: str, known: Sequence[str]) -> NotFound:
    suggestions = closest_slugs(slug, known)
    hint = f"did you mean '{suggestions[0]}'?" if suggestions else None
    return NotFound(f"no agent with slug '{slug}'", hint=hint)


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    if offset < 0:
        raise InvalidInput("offset must not be negative")


def validated(model: type[M], data: Any) -> M:
    """Builds a contract model, turning validation failures into InvalidInput."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None


def retrying(attempts: int, transient: Callable[[BaseException], bool]) -> AsyncRetrying:
    """The one retry policy of both stores: short exponential backoff, a bounded count."""
    return AsyncRetrying(
        retry=retry_if_exception(transient),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.1),
        reraise=True,
    )


def serialised(model: type[M], value: BaseModel) -> tuple[M, dict[str, Any]]:
    """The JSON values a store writes for `value`, and the model validated from exactly them.

    Pydantic's JSON mode writes a non-finite number as null, so the Python form is checked for
    portability first; then the JSON form is validated: what is written is what was validated,
    and a refused value raises InvalidInput before anything is written.
    """
    try:
        portable_json.check(value.model_dump(mode="python"))
    except portable_json.NotPortable as exc:
        raise InvalidInput(f"the value cannot be stored as JSON: {exc}") from None
    data = value.model_dump(mode="json")
    return validated(model, data), data


def agent_from_row(row: Row) -> AgentConfig:
    values = dict(row)
    try:
        return AgentConfig.model_validate(values)
    except ValidationError as exc:
        # A row written around the contracts (by hand, by an old version) is never run.
        raise UnreadableAgent(UUID(str(values["id"])), describe_validation_error(exc)) from None


def readable_agents(rows: Sequence[Row]) -> tuple[list[AgentConfig], tuple[UUID, ...]]:
    """The rows that pass the contract, and the ids of those that do not: one bad row must not
    break a list for everyone. Each skipped row is logged with its id."""
    agents: list[AgentConfig] = []
    unreadable: list[UUID] = []
    for row in rows:
        try:
            agents.append(agent_from_row(row))
        except UnreadableAgent as exc:
            log.error("agent_row_unreadable", agent_id=str(exc.agent_id), reason=exc.reason)
            unreadable.append(exc.agent_id)
    return agents, tuple(unreadable)


def raw_row(row: Row) -> dict[str, Any]:
    """A row's columns as JSON values (ids and times as strings), without validation."""
    return {key: _plain(value) for key, value in dict(row).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def session_from_row(row: Row) -> CallSession:
    return CallSession.model_validate(dict(row))


def slug_taken(slug: str) -> Conflict:
    return Conflict(f"the slug '{slug}' is taken by another of your agents")


def stale_version(agent_id: UUID, current: int, expected: int) -> Conflict:
    return Conflict(
        f"agent {agent_id} is at version {current}, not {expected}: it was changed meanwhile",
        current_version=current,
    )


def check_final_status(status: SessionStatus) -> None:
    if status is SessionStatus.ACTIVE:
        raise InvalidInput("a finished session is 'ended' or 'failed'")


def apply_patch(current: AgentConfig, patch: AgentPatch) -> AgentConfig:
    try:
        return current.with_changes(patch)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None
