"""Opening a room for a caller: admission (the caller's rate, the platform's capacity), then
one room with exactly one dispatch and one join token.

Both room endpoints end here. A test call gets `agent-{agent_id}-{suffix}` with room metadata
`{"agent_id"}` and one dispatch to the spawner; a Voxie session gets `voxie-creation-{suffix}`
and one dispatch to Voxie. The dispatch rides inside CreateRoom, so LiveKit launches it once,
with the room; a dispatch in the token would be ignored for an existing room and a separate
CreateDispatch would add a second agent on retry. A test call's `call_sessions` row is opened
here too, before its room, with its owner and version (`DispatchMetadata.session_id`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from uuid import UUID, uuid4

import jwt

from backend.auth import Principal
from backend.limits import retry_after
from backend.problems import Problem
from backend.services import Services
from backend.workers import refuse_without_worker
from shared.contracts import AgentConfig
from shared.contracts.dispatch import DispatchMetadata, RoomMetadata, SessionKind
from shared.contracts.sessions import EndReason, SessionStatus, call_record
from shared.contracts.versions import RunTarget
from shared.logging import get_logger
from shared.naming import RoomKind, agent_room_name, voxie_room_name
from shared.rooms import NewRoom
from shared.settings import Settings
from shared.store import StoreError

log = get_logger(__name__)

# One caller and one agent per room; the spare places let a reconnecting browser back in before
# LiveKit notices its old connection is gone.
MAX_PARTICIPANTS = 4
# LiveKit's own backstop behind the agent's grace timer: it closes the room only if the agent
# did not (crashed mid-grace), never before the grace period can run out.
DEPARTURE_MARGIN_S = 15
# See slot_ttl_s.
SLOT_MARGIN_S = 30.0


@dataclass(frozen=True, slots=True)
class RoomGrant:
    room_name: str
    token: str
    livekit_url: str


def departure_timeout_s(settings: Settings) -> int:
    return math.ceil(settings.grace_period_s) + DEPARTURE_MARGIN_S


def join_token(settings: Settings, identity: str, room: str) -> str:
    """A short-lived token for `identity` to join `room` only, publish, subscribe and send data.

    The claims are exactly what `livekit.api.AccessToken` writes for these grants (a test holds
    the two equal); signed here directly because AccessToken's dataclass round trip was a
    third of the spawn handler's CPU.
    """
    now = int(time.time())
    claims = {
        "video": {
            "roomJoin": True,
            "room": room,
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": True,
        },
        "sub": identity,
        "iss": settings.livekit_api_key,
        "nbf": now,
        "exp": now + settings.livekit_token_ttl_s,
    }
    return jwt.encode(claims, settings.livekit_api_secret.get_secret_value(), algorithm="HS256")


@dataclass(frozen=True, slots=True)
class Admission:
    """A caller's go-ahead for one new room: its name and the session it is for. An agent
    room's admission holds its slot under MAX_TOTAL_AGENTS, released if the room is not made."""

    name: str
    kind: SessionKind
    agent: AgentConfig | None
    holds_slot: bool


async def admit(
    services: Services, principal: Principal, kind: SessionKind, agent: AgentConfig | None
) -> Admission:
    """The caller's rate, then (agent rooms) a slot under the platform's capacity, or 429."""
    settings, metrics = services.settings, services.metrics
    _ = services.rooms  # 503 before anything is counted when LiveKit is not configured
    # 503 at once when no worker could take the room.
    await refuse_without_worker(services.workers, services.metrics, kind)
    # Taken before any await: concurrent requests of one caller each see the others' tokens.
    wait = services.limiter.take(principal.identity)
    if wait is not None:
        metrics.spawns_refused.labels("rate").inc()
        raise Problem(
            429,
            "rate-limited",
            f"at most {settings.spawn_rate_per_minute} new rooms a minute; try again shortly",
            headers={"Retry-After": retry_after(wait)},
        )
    if kind.room_kind is RoomKind.CREATION:
        return Admission(voxie_room_name(), kind, agent, holds_slot=False)
    assert agent is not None
    name = agent_room_name(agent.id)
    listed = await services.census.agent_rooms() if services.census is not None else []
    # The check and the reservation are one statement in the store (see the agent_slots
    # migration), so concurrent spawns on any number of replicas never pass the cap together.
    reserved = await services.store.reserve_agent_slot(
        name, cap=settings.max_total_agents, listed=listed, ttl_s=slot_ttl_s(settings)
    )
    if not reserved:
        metrics.spawns_refused.labels("capacity").inc()
        raise Problem(
            429,
            "at-capacity",
            f"all {settings.max_total_agents} agent places are taken; try again shortly",
            headers={"Retry-After": retry_after(settings.gc_interval_s)},
        )
    return Admission(name, kind, agent, holds_slot=True)


async def create_room(
    services: Services,
    principal: Principal,
    admission: Admission,
    *,
    requested_by: str | None = None,
    version: RunTarget | None = None,
) -> RoomGrant:
    """The admitted room in LiveKit with its one dispatch, and the caller's join token.
    `requested_by` defaults to the caller; `version` is what an agent's call runs (see
    DispatchMetadata for both)."""
    settings, metrics = services.settings, services.metrics
    name, kind, agent = admission.name, admission.kind, admission.agent
    agent_id = agent.id if agent is not None else None
    call = agent if kind is not SessionKind.CREATION else None
    dispatch = DispatchMetadata(
        agent_id=agent_id,
        deployment=settings.platform_env,
        kind=kind,
        requested_by=requested_by or principal.identity,
        # The spawner reloads a cached config older than this, so an edit applies at once.
        agent_version=call.version if call is not None else None,
        version=version,
        session_id=uuid4() if call is not None else None,
    )
    session = None
    if call is not None:
        # The call's row, before its room: whatever becomes of the call (refused, no agent ever
        # takes it, the caller leaves first), it is on its owner's list with its version.
        session = call_record(
            name,
            dispatch,
            deployment=settings.platform_env,
            agent_id=call.id,
            owner_id=call.owner_id,
            ran=version,
            draft_version=call.version,
        )
        try:
            await services.store.start_session(session)
        except BaseException:
            await release_slot(services, name)
            raise
    try:
        await services.rooms.create(
            NewRoom(
                name=name,
                metadata=RoomMetadata(agent_id=agent_id).to_json() if agent_id else "",
                agent_name=settings.worker_agent_name(kind.room_kind.role),
                dispatch_metadata=dispatch.to_json(),
                empty_timeout_s=settings.room_empty_timeout_s,
                departure_timeout_s=departure_timeout_s(settings),
                max_participants=MAX_PARTICIPANTS,
            )
        )
    except BaseException as exc:
        # Not made (or not known to be: a room made despite a timeout is in LiveKit's list,
        # which counts it from the next census on).
        if admission.holds_slot:
            await release_slot(services, name)
        if session is not None and session.id is not None:
            await _room_not_opened(services, session.id, exc)
        raise
    metrics.rooms_created.labels(kind.value).inc()
    log.info(
        "room_opened",
        room=name,
        agent_id=str(agent_id) if agent_id else None,
        kind=kind.value,
        requested_by=dispatch.requested_by,
        version=version,
    )
    return RoomGrant(
        room_name=name,
        token=join_token(settings, principal.identity, name),
        livekit_url=settings.browser_livekit_url,
    )


async def open_room(
    services: Services,
    principal: Principal,
    kind: SessionKind,
    agent: AgentConfig | None = None,
    *,
    requested_by: str | None = None,
    version: RunTarget | None = None,
) -> RoomGrant:
    """Admission, then the room: what both room endpoints do."""
    admission = await admit(services, principal, kind, agent)
    return await create_room(
        services, principal, admission, requested_by=requested_by, version=version
    )


async def _room_not_opened(services: Services, session_id: UUID, exc: BaseException) -> None:
    """The call's row says it failed (the caller got an error); best effort: a row left open
    is finalised `lost` by the reconciler, its room being in no listing."""
    try:
        await services.store.finish_session(
            session_id,
            end_reason=EndReason.ERROR,
            status=SessionStatus.FAILED,
            error=f"the room could not be opened: {type(exc).__name__}",
        )
    except StoreError as error:
        log.warning("session_not_failed", session_id=str(session_id), error=str(error))


def slot_ttl_s(settings: Settings) -> float:
    """How long a slot outlives its reservation if nothing releases it: long enough for the
    room to be created and show in every replica's census, after which LiveKit's list counts
    the room; short enough that a slot leaked by a crash frees itself soon."""
    return 2 * settings.livekit_api_timeout_s + SLOT_MARGIN_S


async def release_slot(services: Services, room: str) -> None:
    """`room` ended or was never made: its place is free. Best effort: a slot the store cannot
    release now expires, and the reconciler sweeps it before that."""
    if services.census is not None:
        services.census.forget(room)
    try:
        await services.store.release_agent_slot(room)
    except StoreError as exc:
        log.warning("slot_not_released", room=room, error=str(exc))
