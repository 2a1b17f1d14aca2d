"""API keys created by admins in the workspace, stored hashed in the ``api_keys`` table.

The authenticator accepts them beside the keys of ``security.api_keys``
(those win: an id in settings is never looked up here). A key is shown once,
when it is created; the table keeps its SHA-256, name, role, creator and
times. Lookups are cached for ``cache_s`` seconds so scoring calls do not hit
the database each time: a revoked key stops working on every replica within
that delay (its workspace sessions end at once). ``last_used_at`` is written
at most once a minute per key and replica.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from fraudlens.errors import RecordsError, ValidationError
from fraudlens.records.tables import api_keys, sessions
from fraudlens.security.auth import generate_api_key
from fraudlens.settings import ApiKeyEntry

logger = logging.getLogger(__name__)

ROLES = ("analyst", "admin", "scorer")
_NAME = re.compile(r"^[\w .@'-]{1,64}$")
_MAX_CACHE = 10_000
_TOUCH_EVERY_S = 60.0


class PgKeyStore:
    """The ``api_keys`` table: create, list, revoke, and look up for the authenticator.

    Args:
        engine: the records database, or a callable returning it on first use
            (a replica opens the database only when a stored key is used).
        cache_s: how long a lookup (found or not) is reused.
        reserved: key ids that must not be created here (the settings' keys).
    """

    def __init__(
        self,
        engine: Engine | Callable[[], Engine],
        cache_s: float = 5.0,
        reserved: frozenset[str] = frozenset(),
    ) -> None:
        self._engine = engine
        self.cache_s = cache_s
        self.reserved = reserved
        self._cache: dict[str, tuple[float, ApiKeyEntry | None]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The records database."""
        return self._engine if isinstance(self._engine, Engine) else self._engine()

    def create(self, name: str, role: str, actor: str) -> tuple[str, str]:
        """Store a new key for ``name``; returns ``(key id, key)``: hand the key over once.

        Raises:
            ValidationError: a bad name or role (naming the field).
        """
        name = name.strip()
        if not _NAME.match(name):
            raise ValidationError("name", "1-64 letters, digits, spaces or . @ ' - _")
        if role not in ROLES:
            raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
        key_id, key, digest = generate_api_key()
        while key_id in self.reserved:
            key_id, key, digest = generate_api_key()
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    key_id=key_id, name=name, role=role, sha256=digest, created_by=actor
                )
            )
        return key_id, key

    def list(self) -> list[dict[str, Any]]:
        """Every stored key, newest first (never the key itself: it is not stored)."""
        columns = [c for c in api_keys.c if c.name != "sha256"]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).order_by(api_keys.c.created_at.desc()))
            return [dict(row) for row in rows.mappings()]

    def revoke(self, key_id: str, actor: str) -> bool:
        """Revoke a live key and end its workspace sessions; False if no live key has that id."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            done = conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now, revoked_by=actor)
            ).rowcount
            if done:
                conn.execute(
                    sessions.update()
                    .where(
                        sessions.c.actor == f"api_key:{key_id}", sessions.c.signed_out_at.is_(None)
                    )
                    .values(signed_out_at=now)
                )
        with self._lock:
            self._cache.pop(key_id, None)
        return bool(done)

    def lookup(self, key_id: str) -> ApiKeyEntry | None:
        """The live key ``key_id`` (None: unknown or revoked), cached ``cache_s`` seconds.

        Raises:
            RecordsError: the database cannot be read.
        """
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(api_keys.c.role, api_keys.c.sha256).where(
                        api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)
                    )
                ).first()
        except SQLAlchemyError as exc:
            raise RecordsError(f"cannot read the api_keys table: {type(exc).__name__}") from exc
        entry = ApiKeyEntry(role=row.role, sha256=row.sha256) if row is not None else None
        with self._lock:
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[key_id] = (now + self.cache_s, entry)
        return entry

    def touch(self, key_id: str) -> None:
        """Record that ``key_id`` was used (at most once a minute; failures only logged)."""
        now = time.monotonic()
        with self._lock:
            if self._touched.get(key_id, -_TOUCH_EVERY_S) > now - _TOUCH_EVERY_S:
                return
            if len(self._touched) >= _MAX_CACHE:
                self._touched.clear()
            self._touched[key_id] = now
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    api_keys.update()
                    .where(api_keys.c.key_id == key_id)
                    .values(last_used_at=datetime.now(UTC))
                )
        except SQLAlchemyError as exc:
            logger.warning("cannot record the use of key %s: %s", key_id, type(exc).__name__)
