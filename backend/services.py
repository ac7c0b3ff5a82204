"""What the handlers share: the clients the app's lifespan opened, and the admission limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backend.api_keys import ApiKeys
from backend.auth import Authenticator
from backend.limits import RateLimiter, RoomCensus
from backend.metrics import Metrics
from backend.problems import unavailable
from shared.addresses import Resolver, system_resolver
from shared.rooms import Rooms
from shared.settings import Settings
from shared.store import AgentStore
from shared.tool_access import ToolAccess

if TYPE_CHECKING:
    from backend.reconciler import Reconciler
    from backend.workers import WorkerCensus


@dataclass
class Services:
    settings: Settings
    store: AgentStore
    auth: Authenticator
    # Minting and finding owners' API keys (backend.api_keys): `auth` finds, the routes mint.
    api_keys: ApiKeys
    metrics: Metrics
    limiter: RateLimiter
    # None when LiveKit credentials are not configured (dev): room endpoints answer 503.
    livekit: Rooms | None
    census: RoomCensus | None
    reconciler: Reconciler | None
    # The live workers, from their heartbeats (None: rooms are made without asking).
    workers: WorkerCensus | None = None
    # How tool URLs are resolved when a config is saved (tests give names addresses).
    resolve: Resolver = field(default=system_resolver)
    # Whose secrets and exemptions a tool gets (shared.tool_access), over `store`.
    tools: ToolAccess = field(init=False)

    def __post_init__(self) -> None:
        self.tools = ToolAccess(self.store, self.settings)

    @property
    def rooms(self) -> Rooms:
        if self.livekit is None:
            raise unavailable(
                "livekit-not-configured",
                "LiveKit is not configured on this backend (set LIVEKIT_API_KEY and "
                "LIVEKIT_API_SECRET)",
                retry_after_s=60,
            )
        return self.livekit
