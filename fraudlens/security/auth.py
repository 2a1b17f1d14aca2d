"""API authentication: hashed API keys and OAuth2 bearer JWTs, roles, rate limits.

API keys look like ``fl_<key id>_<43 url-safe chars>`` (256 random bits).
Only the SHA-256 of each key is stored (``security.api_keys``). A fast hash is
enough because the keys are machine-generated with 256 bits of entropy: no
dictionary or brute-force attack can invert the hash, so a slow KDF (scrypt,
argon2) would add 10-100 ms to every scoring call and no security. Human
passwords would need one; FraudLens accepts none. The key id in the key
gives a constant-time lookup and a name for logs, audit and rate limits.

Bearer tokens are JWTs (HS256 or RS256) checked by PyJWT for signature,
``exp``, ``iss`` and ``aud``; roles come from ``security.jwt_roles_claim``.
The algorithm must be one of ``security.jwt_algorithms`` and picks its own
key, so ``alg: none`` and RS256/HS256 key confusion are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from fraudlens.errors import AuthError, ConfigError, ForbiddenError, RecordsError
from fraudlens.security.ratelimit import RateLimiter, limiter_from_settings
from fraudlens.security.roles import Permission, Role, parse_roles, permissions_of

if TYPE_CHECKING:
    from fraudlens.settings import ApiKeyEntry, Settings

logger = logging.getLogger(__name__)
_API_KEY = re.compile(r"^fl_([A-Za-z0-9]{1,16})_([A-Za-z0-9_-]{43})$")
_NO_MATCH = hashlib.sha256(b"no such key").hexdigest()
_MIN_HS_SECRET = 32


def hash_api_key(key: str) -> str:
    """Hex SHA-256 of an API key: the value to put in ``security.api_keys``."""
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key(key_id: str | None = None) -> tuple[str, str, str]:
    """Make a new API key; returns ``(key id, key, sha256)``.

    Hand the key to the client once; store only the id, role and hash.
    """
    key_id = key_id or secrets.token_hex(4)
    if not re.fullmatch(r"[A-Za-z0-9]{1,16}", key_id):
        raise ConfigError("API key id must be 1-16 letters or digits")
    key = f"fl_{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, hash_api_key(key)


class KeyLookup(Protocol):
    """API keys kept outside settings (``fraudlens.records.api_keys.PgKeyStore``)."""

    def lookup(self, key_id: str) -> ApiKeyEntry | None:
        """The live key ``key_id`` (None: unknown or revoked); RecordsError if unreadable."""

    def touch(self, key_id: str) -> None:
        """Record that the key was used."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Attributes:
        subject: API key id or token subject (safe to log and audit).
        roles: the caller's roles.
        method: how the caller authenticated.
        rate: per-caller rate override (requests/s), if any.
    """

    subject: str
    roles: frozenset[Role]
    method: Literal["api_key", "jwt"]
    rate: float | None = None

    @property
    def actor(self) -> str:
        """Name used in the audit log, e.g. ``api_key:ab12cd34``."""
        return f"{self.method}:{self.subject}"

    def allows(self, need: Permission | Role) -> bool:
        """True when the caller holds ``need`` (a role, or admin, or a permission)."""
        if isinstance(need, Role):
            return need in self.roles or Role.ADMIN in self.roles
        return need in permissions_of(self.roles)


@dataclass(frozen=True)
class JwtConfig:
    """How bearer tokens are checked (built from Settings by ``Authenticator``)."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    public_key: Any = None
    hs_secret: bytes | None = None
    roles_claim: str = "roles"
    leeway_s: float = 30.0


class Authenticator:
    """Checks credentials, roles and rates for the API.

    Args:
        api_keys: stored keys by id (role and SHA-256).
        jwt_config: bearer-token checks; None disables bearer tokens.
        limiter: rate limiter; None disables rate limiting.
        key_store: keys created in the workspace, looked up when an id is not
            in ``api_keys`` (None: settings' keys only).
    """

    def __init__(
        self,
        api_keys: Mapping[str, ApiKeyEntry],
        jwt_config: JwtConfig | None = None,
        limiter: RateLimiter | None = None,
        key_store: KeyLookup | None = None,
    ) -> None:
        self._keys = dict(api_keys)
        self._jwt = jwt_config
        self._limiter = limiter
        self.key_store = key_store

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """Build from ``settings.security`` (JWT on when issuer and audience are set).

        Raises:
            ConfigError: bad JWT settings; in production, no caller credentials
                or per-replica (``memory://``) rate-limit storage.
        """
        sec = settings.security
        config = None
        if sec.jwt_issuer and sec.jwt_audience:
            secret = sec.jwt_hs_secret.get_secret_value().encode() if sec.jwt_hs_secret else None
            if "HS256" in sec.jwt_algorithms and (not secret or len(secret) < _MIN_HS_SECRET):
                raise ConfigError(f"security.jwt_hs_secret must be at least {_MIN_HS_SECRET} bytes")
            public = None
            if "RS256" in sec.jwt_algorithms:
                if not sec.jwt_public_key:
                    raise ConfigError("security.jwt_public_key is required for RS256")
                try:
                    public = load_pem_public_key(sec.jwt_public_key.encode())
                except ValueError as exc:
                    raise ConfigError("security.jwt_public_key is not a PEM public key") from exc
            config = JwtConfig(
                sec.jwt_issuer,
                sec.jwt_audience,
                tuple(sec.jwt_algorithms),
                public,
                secret,
                sec.jwt_roles_claim,
            )
        elif settings.mode == "production" and not sec.api_keys:
            raise ConfigError("production needs security.api_keys or jwt_issuer + jwt_audience")
        limiter = limiter_from_settings(
            sec.resolved_rate_limit_storage(settings.mode),
            sec.rate_limit_per_second,
            sec.rate_limit_burst,
        )
        store = None
        if sec.stored_api_keys and settings.records.database_url is not None:
            store = _key_store(settings)
        return cls(sec.api_keys, config, limiter, store)

    def authenticate(self, *, api_key: str | None = None, bearer: str | None = None) -> Principal:
        """Return the caller behind an API key or a bearer token.

        Raises:
            AuthError: no credentials, or they are invalid (the message never
                says which part was wrong).
        """
        if api_key:
            return self._check_api_key(api_key)
        if bearer:
            return self._check_jwt(bearer)
        raise AuthError("credentials required (X-API-Key header or Bearer token)")

    def authorize(self, principal: Principal, need: Permission | Role) -> None:
        """Raise ``ForbiddenError`` unless ``principal`` holds ``need``."""
        if not principal.allows(need):
            raise ForbiddenError(f"{principal.actor} may not {need.value}")

    def rate_limit(self, principal: Principal) -> None:
        """Take one request from the caller's budget (``RateLimitError`` when empty)."""
        if self._limiter is not None:
            self._limiter.check(principal.actor, principal.rate)

    def check(
        self, need: Permission | Role, *, api_key: str | None = None, bearer: str | None = None
    ) -> Principal:
        """Authenticate, authorize, then rate-limit; returns the caller."""
        principal = self.authenticate(api_key=api_key, bearer=bearer)
        self.authorize(principal, need)
        self.rate_limit(principal)
        return principal

    def reads_store(self, api_key: str | None) -> bool:
        """Whether checking ``api_key`` may query the stored keys' database (blocking I/O)."""
        if api_key is None or self.key_store is None:
            return False
        match = _API_KEY.match(api_key)
        return match is not None and match.group(1) not in self._keys

    def _check_api_key(self, key: str) -> Principal:
        match = _API_KEY.match(key)
        key_id = match.group(1) if match else ""
        entry = self._keys.get(key_id)
        stored = entry is None and match is not None and self.key_store is not None
        if stored and self.key_store is not None:
            try:
                entry = self.key_store.lookup(key_id)
            except RecordsError as exc:  # settings' keys keep working without the database
                logger.error("stored API keys unavailable: %s", exc)
        # Compare even when the id is unknown, so timing does not reveal valid ids.
        expected = entry.sha256 if entry is not None else _NO_MATCH
        if not hmac.compare_digest(hash_api_key(key), expected) or entry is None:
            raise AuthError("invalid credentials")
        if stored and self.key_store is not None:
            self.key_store.touch(key_id)
        return Principal(key_id, frozenset({Role(entry.role)}), "api_key", entry.rate_per_second)

    def _check_jwt(self, token: str) -> Principal:
        cfg = self._jwt
        if cfg is None:
            raise AuthError("bearer tokens are not accepted here")
        try:
            alg = jwt.get_unverified_header(token).get("alg")
            key = cfg.hs_secret if alg == "HS256" else cfg.public_key if alg == "RS256" else None
            if alg not in cfg.algorithms or key is None:
                raise AuthError("invalid credentials")
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=cfg.audience,
                issuer=cfg.issuer,
                leeway=cfg.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid bearer token ({type(exc).__name__})") from None
        roles = parse_roles(claims.get(cfg.roles_claim))
        return Principal(str(claims["sub"]), roles, "jwt")


def _key_store(settings: Settings) -> KeyLookup:
    """The workspace's stored keys; the database is opened on the first lookup."""
    from fraudlens.records.api_keys import PgKeyStore
    from fraudlens.records.engine import engine_from_settings

    engine: list[Any] = []

    def connect() -> Any:
        if not engine:
            engine.append(engine_from_settings(settings, pool_size=1))
        return engine[0]

    return PgKeyStore(connect, reserved=frozenset(settings.security.api_keys))
