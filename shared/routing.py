"""Which jobs a worker takes: the one rule both worker deployments apply in `on_request`.

LiveKit offers a job to a worker registered under the job's agent name; the worker decides.
The rule, in order (the first that fails decides):

0. The operator doctor's probe (`platform-probe-*`, `shared.contracts.probe`) is answered, never
   run: the worker appends who it is to the room's metadata and refuses with `terminate=False`,
   so LiveKit asks every worker of the name in turn.
1. The room kind is the worker's: Voxie takes `voxie-creation-*`, the spawner `agent-{id}-*`.
   Anything else is refused with `terminate=True`: no worker of this name should run it.
2. The dispatch metadata, when present, parses and names this deployment. Another deployment's
   job is refused with `terminate=False`, so LiveKit offers it to the next worker of the name,
   and logged loudly: two deployments share an agent name (a seed's staging outage).
   Malformed metadata is refused with `terminate=True`; a retry cannot fix it.
3. The replica has room for one more session; otherwise `terminate=False` (another replica).
4. Spawner only: the agent id agrees across the dispatch metadata, the room metadata and the
   room name; a mismatch is refused with `terminate=True`.

`route()` is pure: the worker's handler turns a `Decision` into `accept()` / `reject()` and
counts it by `verdict`. A console job (`python -m voxie|spawner console`) comes from no backend
and has no metadata: `console_metadata` is what it runs as, in development only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from shared.contracts.dispatch import DispatchMetadata, RoomMetadata, SessionKind
from shared.logging import get_logger
from shared.naming import RoomKind, WorkerRole, is_probe_room, parse_room_name
from shared.settings import Settings

if TYPE_CHECKING:
    from livekit.agents import JobRequest

log = get_logger(__name__)


class Verdict(StrEnum):
    ACCEPT = "accepted"
    PROBE = "probe"
    WRONG_ROOM = "wrong_room"
    MALFORMED_METADATA = "malformed_metadata"
    MISSING_METADATA = "missing_metadata"
    OTHER_DEPLOYMENT = "other_deployment"
    AT_CAPACITY = "at_capacity"
    AGENT_MISMATCH = "agent_mismatch"


@dataclass(frozen=True, slots=True)
class JobOffer:
    """What a job request says about itself, lifted out of the LiveKit objects."""

    job_id: str
    room_name: str
    room_metadata: str = ""
    dispatch_metadata: str = ""

    @classmethod
    def from_request(cls, request: JobRequest) -> JobOffer:
        return cls(
            job_id=request.id,
            room_name=request.room.name,
            room_metadata=request.room.metadata,
            dispatch_metadata=request.job.metadata,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: str = ""
    terminate: bool = True
    metadata: DispatchMetadata | None = None
    agent_id: UUID | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPT


def route(
    offer: JobOffer,
    *,
    role: WorkerRole,
    deployment: str,
    at_capacity: bool,
    require_metadata: bool = False,
) -> Decision:
    """Decides one job offer; see the module docstring for the rule."""
    if is_probe_room(offer.room_name):
        return Decision(Verdict.PROBE, "the operator doctor's probe", terminate=False)
    room = parse_room_name(offer.room_name)
    if room is None or room.kind.role is not role:
        kind = next(kind for kind in RoomKind if kind.role is role)
        return _refuse(
            offer,
            Verdict.WRONG_ROOM,
            f"{role} workers only run {kind} rooms",
            terminate=True,
        )

    metadata = DispatchMetadata.parse(offer.dispatch_metadata)
    if offer.dispatch_metadata and metadata is None:
        return _refuse(offer, Verdict.MALFORMED_METADATA, "dispatch metadata is not valid")
    if metadata is None and require_metadata:
        return _refuse(offer, Verdict.MISSING_METADATA, "the dispatch carries no metadata")
    if metadata is not None and metadata.deployment != deployment:
        log.error(
            "agent_name_shared_by_two_deployments",
            room=offer.room_name,
            job_id=offer.job_id,
            ours=deployment,
            theirs=metadata.deployment,
            fix="give each deployment its own PLATFORM_ENV (or agent name)",
        )
        return Decision(
            Verdict.OTHER_DEPLOYMENT,
            f"job belongs to deployment '{metadata.deployment}'",
            terminate=False,
            metadata=metadata,
        )

    if at_capacity:
        return Decision(Verdict.AT_CAPACITY, "replica at capacity", terminate=False)

    agent_id = metadata.agent_id if metadata else None
    if role is WorkerRole.SPAWNER:
        sources = {
            "dispatch metadata": agent_id,
            "room metadata": _room_agent_id(offer.room_metadata),
            "room name": room.agent_id,
        }
        named = {source: value for source, value in sources.items() if value is not None}
        if len(set(named.values())) > 1:
            return _refuse(
                offer,
                Verdict.AGENT_MISMATCH,
                "agent ids disagree: "
                + ", ".join(f"{source}={value}" for source, value in named.items()),
            )
        agent_id = next(iter(named.values()))
    return Decision(Verdict.ACCEPT, metadata=metadata, agent_id=agent_id)


def console_metadata(
    settings: Settings, kind: SessionKind, requested_by: str, agent_id: UUID | None = None
) -> DispatchMetadata | None:
    """The dispatch metadata a local console job runs as; None outside dev/test, where every
    job must come from the backend."""
    if not settings.is_development:
        return None
    return DispatchMetadata(
        agent_id=agent_id,
        deployment=settings.platform_env,
        kind=kind,
        requested_by=requested_by,
    )


def _room_agent_id(raw: str) -> UUID | None:
    parsed = RoomMetadata.parse(raw)
    return parsed.agent_id if parsed else None


def _refuse(offer: JobOffer, verdict: Verdict, reason: str, *, terminate: bool = True) -> Decision:
    log.warning(
        "job_refused", room=offer.room_name, job_id=offer.job_id, verdict=verdict, reason=reason
    )
    return Decision(verdict, reason, terminate=terminate)
