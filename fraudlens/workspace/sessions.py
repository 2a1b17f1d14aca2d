"""Sign-in sessions of the workspace, stored in PostgreSQL so every replica shares them.

The cookie carries a random session id (256 bits); the table keeps only its
SHA-256, the analyst, roles, the session's CSRF token and its expiry. Signing
out marks the row, so a stolen cookie stops working everywhere at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from fraudlens.records.tables import sessions
from fraudlens.security.auth import Principal
from fraudlens.security.roles import Permission, Role, permissions_of


@dataclass(frozen=True)
class Session:
    """A signed-in analyst."""

    actor: str
    roles: frozenset[Role]
    csrf_token: str

    def allows(self, need: Permission) -> bool:
        """True when the session's roles hold ``need``."""
        return need in permissions_of(self.roles)

    def csrf_ok(self, token: str | None) -> bool:
        """True when ``token`` is this session's CSRF token (constant-time)."""
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(engine: Engine, principal: Principal, minutes: int) -> str:
    """Store a new session for ``principal``; returns the id for the cookie."""
    session_id = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sessions.insert().values(
                session_hash=_hash(session_id),
                actor=principal.actor,
                roles=sorted(r.value for r in principal.roles),
                csrf_token=secrets.token_urlsafe(32),
                expires_at=now + timedelta(minutes=minutes),
            )
        )
    return session_id


def load_session(engine: Engine, session_id: str | None) -> Session | None:
    """The live session behind a cookie value (None: unknown, expired or signed out)."""
    if not session_id:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(sessions).where(
                sessions.c.session_hash == _hash(session_id),
                sessions.c.signed_out_at.is_(None),
                sessions.c.expires_at > datetime.now(UTC),
            )
        ).first()
    if row is None:
        return None
    known = {r.value for r in Role}
    roles = frozenset(Role(r) for r in row.roles if r in known)
    return Session(row.actor, roles, row.csrf_token)


def end_session(engine: Engine, session_id: str) -> None:
    """Sign a session out (its cookie no longer works on any replica)."""
    with engine.begin() as conn:
        conn.execute(
            sessions.update()
            .where(sessions.c.session_hash == _hash(session_id))
            .values(signed_out_at=datetime.now(UTC))
        )
