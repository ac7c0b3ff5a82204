"""Who is calling: the operator token, or a Supabase Auth user's access token verified locally.

`Authorization: Bearer <token>` carries either
- `BACKEND_ADMIN_TOKEN` (compared in constant time): the operator, who sees every agent and may
  use the admin endpoints; or
- a Supabase user access token: HS256 with the project's legacy JWT secret, or RS256/ES256 with
  a key from the project's JWKS (cached and refreshed in the background; fetched at once
  when a token names an unknown `kid`; at most one fetch every `MIN_REFRESH_S` while the
  endpoint answers, one every `RETRY_S` while it fails, each bounded by `FETCH_TIMEOUT_S`).
  Audience `authenticated`, `exp` and a UUID `sub` are required (never the nil UUID: that is
  the operator's owner id);
  the issuer must be `{SUPABASE_URL}/auth/v1` when SUPABASE_URL is set; or
- an owner's API key (`vx_live_…`, `backend.api_keys`): the key's owner, as a user, looked up
  in the store on every request (never cached, so a revoked key is refused at once on every
  replica); never the operator, and never for managing keys (`authenticated`); or
- a dev token from the dashboard's one-click dev sign-in (`backend.dev_auth`): HS256 with the
  dev secret, issuer `DEV_ISSUER`, subject the dev user's id or `operator`. Accepted only by a
  backend that has dev sign-in (PLATFORM_ENV=dev on loopback), which is given the secret.

No token or key reaches a log line or an answer: failures are logged by reason only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import jwt

from backend.api_keys import ApiKeys, not_configured
from backend.problems import Problem, unavailable
from shared.contracts.api_keys import is_api_key, is_well_formed
from shared.contracts.dispatch import OPERATOR, OPERATOR_OWNER_ID, names_a_user, user_identity
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

AUDIENCE = "authenticated"
ASYMMETRIC = ("RS256", "ES256")
LEEWAY_S = 10
JWKS_TTL_S = 600.0
MIN_REFRESH_S = 30.0
RETRY_S = 5.0
FETCH_TIMEOUT_S = 3.0
MAX_TOKEN_BYTES = 8_192
VERIFIED_TTL_S = 60.0
VERIFIED_MAX = 10_000
DEV_ISSUER = "voxie-dev-sign-in"
DEV_OPERATOR_SUBJECT = "operator"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: the operator (`user_id` None) or one Supabase user, signed in or through one
    of their API keys (`api_key_id`)."""

    user_id: UUID | None = None
    api_key_id: UUID | None = None

    @property
    def is_operator(self) -> bool:
        return self.user_id is None

    @property
    def identity(self) -> str:
        """`requested_by` in DispatchMetadata and the participant identity in join tokens."""
        return OPERATOR if self.user_id is None else user_identity(self.user_id)

    @property
    def owner_scope(self) -> UUID | None:
        """The owner the caller is limited to; None lets the operator see every owner's rows."""
        return self.user_id

    @property
    def owner_id(self) -> UUID:
        """Who owns what the caller creates."""
        return OPERATOR_OWNER_ID if self.user_id is None else self.user_id


OPERATOR_PRINCIPAL = Principal()


def owner_to_read(principal: Principal, asked: UUID | None, what: str) -> UUID:
    """Whose `what` (e.g. "secrets") a list shows: the caller's own, or the owner `asked` for
    (`?owner_id=`), which only the operator may name unless it is the caller."""
    if asked is not None and not principal.is_operator and asked != principal.user_id:
        raise forbidden(f"only the operator may read another owner's {what}")
    return asked or principal.owner_id


def unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", detail)


class JwksCache:
    """The project's signing keys by `kid`.

    A known key is always answered from memory: when the keys are older than JWKS_TTL_S a
    refresh starts in the background and the request goes on with the key it has. Only a
    token naming an unknown `kid` (a rotated key) waits, for the one fetch in flight, which
    FETCH_TIMEOUT_S bounds. One fetch at a time, and the next may start only
    - MIN_REFRESH_S after the last one began, when it succeeded: the endpoint answers, so a
      token with a `kid` it did not list is made up, and such tokens must not become a request
      flood against Supabase;
    - RETRY_S after the last one ended, when it failed: the endpoint is down or stalled, and
      the platform should be back soon after it is (a failure measured from its start would
      leave a stalled fetch's FETCH_TIMEOUT_S and then most of MIN_REFRESH_S of refusals after
      the endpoint answers again), while requests meanwhile are refused at once, not queued.
    A 503 says in `Retry-After` when the next fetch may start: the truth, so a client that
    waits that long finds the keys if the endpoint is back.
    """

    def __init__(self, url: str, http: httpx.AsyncClient, *, clock: Any = time.monotonic) -> None:
        self.url = url
        self._http = http
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # the last fetch that succeeded
        self._started_at: float | None = None  # the last fetch, whatever came of it
        self._failed_at: float | None = None  # when the last fetch failed; None if it succeeded
        self._fetch: asyncio.Task[None] | None = None

    @property
    def refreshing(self) -> bool:
        """A fetch is in flight."""
        return self._fetch is not None

    async def key(self, kid: str) -> jwt.PyJWK | None:
        known = self._keys.get(kid)
        if known is not None:
            if self._stale():
                self._start_fetch()
            return known
        fetch = self._start_fetch()
        if fetch is not None:
            # Shielded: a caller that gives up does not cancel the fetch the others wait for.
            await asyncio.shield(fetch)
        if self._fetched_at is None:
            raise unavailable(
                "auth-unavailable",
                "the identity provider's signing keys are unreachable",
                retry_after_s=self._retry_after_s(),
            )
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > JWKS_TTL_S

    def _next_fetch_at(self) -> float:
        """The earliest time another fetch may start (see the class docstring)."""
        if self._failed_at is not None:
            return self._failed_at + RETRY_S
        if self._started_at is not None:
            return self._started_at + MIN_REFRESH_S
        return -math.inf

    def _retry_after_s(self) -> int:
        """Whole seconds until the next fetch may start (Retry-After has no fractions)."""
        wait = self._next_fetch_at() - self._clock()
        return math.ceil(wait) if wait > 1 else 1

    def _start_fetch(self) -> asyncio.Task[None] | None:
        """The fetch in flight, or a new one if the last one allows it (`_next_fetch_at`)."""
        if self._fetch is not None:
            return self._fetch
        now = self._clock()
        if now < self._next_fetch_at():
            return None
        self._started_at = now
        self._fetch = asyncio.create_task(self._refresh(), name="jwks-refresh")
        self._fetch.add_done_callback(self._fetched)
        return self._fetch

    def _fetched(self, fetch: asyncio.Task[None]) -> None:
        self._fetch = None

    async def _refresh(self) -> None:
        """Never raises: a failed fetch keeps the keys there are (see `key`)."""
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                response = await self._http.get(self.url, timeout=FETCH_TIMEOUT_S)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (
            TimeoutError,
            httpx.HTTPError,
            ValueError,
            jwt.PyJWKSetError,
            jwt.InvalidKeyError,
            RuntimeError,  # the HTTP client closed under a background refresh (shutdown)
        ) as exc:
            log.warning("jwks_fetch_failed", url=self.url, error=type(exc).__name__)
            self._failed_at = self._clock()
            return
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._fetched_at = self._clock()
        self._failed_at = None
        log.info("jwks_refreshed", url=self.url, keys=len(self._keys))


class Authenticator:
    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        dev_secret: str | None = None,
        api_keys: ApiKeys | None = None,
    ) -> None:
        self.dev_secret = dev_secret
        self._api_keys = api_keys
        admin = settings.backend_admin_token
        self._admin = admin.get_secret_value().encode() if admin else None
        secret = settings.supabase_jwt_secret
        self._hs_secret = secret.get_secret_value() if secret else None
        jwks_url = settings.jwks_url
        self._jwks = JwksCache(jwks_url, http) if jwks_url else None
        self._issuer = (
            f"{settings.supabase_url.rstrip('/')}/auth/v1" if settings.supabase_url else None
        )
        self._verified: dict[bytes, tuple[Principal, float]] = {}

    @property
    def configured(self) -> bool:
        return bool(self._admin or self._hs_secret or self._jwks or self.dev_secret)

    async def authenticate(self, authorization: str | None) -> Principal:
        token = _bearer(authorization)
        if self._admin is not None and hmac.compare_digest(token.encode(), self._admin):
            return OPERATOR_PRINCIPAL
        if is_api_key(token):
            return await self._api_key(token)
        # A dashboard sends the same access token with every call: verify it once, then trust
        # it until it expires (or for VERIFIED_TTL_S, whichever is sooner).
        key = hashlib.sha256(token.encode()).digest()
        now = time.time()
        cached = self._verified.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal, expires_at = await self._user(token)
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        self._verified[key] = (principal, min(expires_at, now + VERIFIED_TTL_S))
        return principal

    async def _api_key(self, key: str) -> Principal:
        """Asked of the store every time (see `backend.api_keys`): no cache to outlive a
        revocation."""
        if self._api_keys is None or not self._api_keys.configured:
            raise not_configured()
        if not is_well_formed(key):
            log.info("api_key_refused", reason="malformed")
            raise unauthorized(
                "the API key is malformed: a key is vx_live_ and 43 letters or digits"
            )
        found = await self._api_keys.find(key)
        if found is None:
            log.info("api_key_refused", reason="unknown")
            raise unauthorized("the API key is not valid: it was revoked, or never issued")
        user = _user_principal(str(found.owner_id), "the API key")
        return Principal(user.user_id, api_key_id=found.id)

    async def _user(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthorized("the bearer token is neither the operator token nor a JWT") from None
        algorithm = header.get("alg")
        key: Any
        if algorithm == "HS256" and self.dev_secret is not None and _issuer(token) == DEV_ISSUER:
            return self._dev(token, self.dev_secret)
        if algorithm == "HS256":
            if self._hs_secret is None:
                raise unauthorized("HS256 user tokens are not accepted (no SUPABASE_JWT_SECRET)")
            key = self._hs_secret
        elif algorithm in ASYMMETRIC:
            if self._jwks is None:
                raise unauthorized(f"{algorithm} user tokens are not accepted (no JWKS configured)")
            kid = header.get("kid")
            found = await self._jwks.key(kid) if isinstance(kid, str) else None
            if found is None:
                raise unauthorized("the token's signing key is not one of the project's keys")
            key = found
        else:
            raise unauthorized(f"tokens signed with {algorithm!r} are not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=AUDIENCE,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("the token has expired") from None
        except jwt.PyJWTError as exc:
            log.info("user_token_refused", reason=type(exc).__name__)
            raise unauthorized(f"the token is not valid: {exc}") from None
        return _user_principal(str(claims["sub"]), "the token"), float(claims["exp"])

    def _dev(self, token: str, secret: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=DEV_ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("the dev sign-in has expired; sign in again") from None
        except jwt.PyJWTError as exc:
            log.info("dev_token_refused", reason=type(exc).__name__)
            raise unauthorized(f"the dev token is not valid: {exc}") from None
        subject = str(claims["sub"])
        if subject == DEV_OPERATOR_SUBJECT:
            return OPERATOR_PRINCIPAL, float(claims["exp"])
        return _user_principal(subject, "the dev token"), float(claims["exp"])


def _user_principal(subject: str, what: str) -> Principal:
    """The one place a user token's subject becomes a caller. The operator's owner id (the nil
    UUID) is no user's: a user holding it would own, see and change the operator's agents, so
    a token naming it is refused however validly signed (Supabase Auth gives users random
    version-4 ids; the dev sign-in mints DEV_USER_ID)."""
    try:
        user_id = UUID(subject)
    except ValueError:
        raise unauthorized(f"{what}'s subject is not a user id") from None
    if not names_a_user(user_id):
        log.warning("user_token_refused", reason="reserved_subject")
        raise unauthorized(
            f"{what}'s subject is the operator's reserved owner id "
            f"({OPERATOR_OWNER_ID}), which no user may hold"
        )
    return Principal(user_id)


def _issuer(token: str) -> object:
    """The `iss` claim, unverified: it only chooses the key the signature is checked with."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise unauthorized("missing Authorization: Bearer token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("the Authorization header must be 'Bearer <token>'")
    if len(token) > MAX_TOKEN_BYTES:
        raise unauthorized("the bearer token is too long")
    return token
