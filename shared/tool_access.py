"""What one owner's HTTP tools may use: their secrets (bound to hosts) and their internal-address
exemptions — from the store, plus for the operator `TOOL_SECRETS` and `TOOL_HTTP_ALLOWLIST`.

The one place that decides whose secrets and exemptions a tool gets, used by the API and Voxie
at save time (`grants`, names and hosts only) and by the spawner at call time (`bound_secrets`,
the values, opened in the spawner's process). A user's agent never sees the operator's
environment: that was the hole this closes (issue 21).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from pydantic import SecretStr

from shared.addresses import AddressGuard, Resolver, system_resolver
from shared.contracts.dispatch import OPERATOR_OWNER_ID
from shared.contracts.secrets import OwnerGrants, SecretInfo
from shared.logging import get_logger
from shared.secret_box import SecretBox, SecretsNotConfigured, SecretUnreadable
from shared.settings import Settings
from shared.store import AgentStore, StoreError

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BoundSecret:
    """A secret's value and the only hosts it may be sent to."""

    value: SecretStr
    hosts: tuple[str, ...]


class ToolAccess:
    def __init__(self, store: AgentStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self.box = SecretBox(settings.secrets_keys)

    def _environment(self, owner_id: UUID) -> dict[str, BoundSecret]:
        if owner_id != OPERATOR_OWNER_ID:
            return {}
        return {
            name: BoundSecret(secret.value, tuple(secret.hosts))
            for name, secret in self._settings.tool_secrets.items()
        }

    def environment_infos(self, owner_id: UUID) -> list[SecretInfo]:
        """The operator's TOOL_SECRETS as their list shows them (no one else has any)."""
        return [
            SecretInfo(name=name, hosts=list(bound.hosts), source="environment")
            for name, bound in sorted(self._environment(owner_id).items())
        ]

    async def grants(self, owner_id: UUID, *, egress: bool = True) -> OwnerGrants:
        """The owner's secrets by name → hosts, and (with `egress`) their exemptions."""
        secrets = {name: bound.hosts for name, bound in self._environment(owner_id).items()}
        for stored in await self._store.list_secrets(owner_id):
            secrets.setdefault(stored.name, stored.hosts)
        allow = await self.allowlist(owner_id) if egress else ()
        return OwnerGrants(secrets=secrets, allow=allow)

    async def allowlist(self, owner_id: UUID) -> tuple[str, ...]:
        """The owner's internal-address exemptions (for the operator, with TOOL_HTTP_ALLOWLIST)."""
        policy = await self._store.get_egress(owner_id)
        platform = self._settings.tool_http_allowlist if owner_id == OPERATOR_OWNER_ID else []
        return tuple(dict.fromkeys([*platform, *policy.allow]))

    async def bound_secrets(self, owner_id: UUID, names: Sequence[str]) -> dict[str, BoundSecret]:
        """The owner's secrets among `names`, opened; one that is missing or does not open is
        left out (the caller refuses the request that needed it). Environment secrets win over
        a stored one of the same name (the API refuses creating such a name)."""
        found = {n: b for n, b in self._environment(owner_id).items() if n in names}
        wanted = [n for n in names if n not in found]
        if not wanted:
            return found
        for stored in await self._store.use_secrets(owner_id, wanted):
            try:
                value = self.box.open(owner_id, stored.name, stored.ciphertext)
            except (SecretsNotConfigured, SecretUnreadable) as exc:
                log.error(
                    "secret_unopened",
                    owner_id=str(owner_id),
                    secret_name=stored.name,
                    error=str(exc),
                )
                continue
            found[stored.name] = BoundSecret(value, stored.hosts)
        return found


class OwnerTools:
    """One call's view of its agent owner's grants, for the spawner's HTTP tools: the guard is
    built from the owner's exemptions on first use and kept for the call; secrets are read at
    every request, so a deleted secret stops at the next one. When the store fails, a request
    uses what this call last read for those names (a call in progress keeps working through a
    database outage; what it never read, it does not get)."""

    def __init__(
        self, access: ToolAccess, owner_id: UUID, *, resolve: Resolver = system_resolver
    ) -> None:
        self._access = access
        self._owner_id = owner_id
        self._resolve = resolve
        self._guard: AddressGuard | None = None
        self._last: dict[str, BoundSecret] = {}

    async def guard(self) -> AddressGuard:
        if self._guard is None:
            allow = await self._access.allowlist(self._owner_id)
            self._guard = AddressGuard(allow, resolve=self._resolve)
        return self._guard

    async def secrets(self, names: Sequence[str]) -> Mapping[str, BoundSecret]:
        try:
            found = await self._access.bound_secrets(self._owner_id, names)
        except StoreError:
            if not names or any(name not in self._last for name in names):
                raise
            log.warning("tool_secrets_stale", owner_id=str(self._owner_id))
            return {name: self._last[name] for name in names}
        for name in names:
            if name in found:
                self._last[name] = found[name]
            else:
                self._last.pop(name, None)
        return found
