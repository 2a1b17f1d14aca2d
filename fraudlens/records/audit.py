"""The audit hash chain in PostgreSQL: one chain shared by every process and pod.

Same entries and hashes as the JSON-lines log (``fraudlens.security.audit``):
each row holds the canonical JSON that was hashed (``body``), its hash
(SHA-256, or HMAC-SHA256 with ``security.audit_hmac_key``) and the previous
row's hash. An append locks the chain (a transaction-scoped advisory lock),
reads the head and inserts ``seq + 1``, so concurrent writers queue and the
chain stays linear. ``append_in`` does so in a caller's transaction, so an
entry commits or rolls back with the change it records (the workspace's
verdicts). ``verify`` names the row (``seq``) and the field that was
changed, and detects deleted or reordered rows; truncation of the newest rows
is detected with an ``expected_head`` kept elsewhere, as for the file log.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, select, text
from sqlalchemy.exc import SQLAlchemyError

from fraudlens.errors import AuditError
from fraudlens.records.engine import db_error
from fraudlens.records.tables import audit
from fraudlens.security.audit import (
    GENESIS,
    AuditEntry,
    AuditVerification,
    canonical,
    chain_digest,
    entry_body,
)

logger = logging.getLogger(__name__)

_CHAIN_LOCK = 0x46524C41  # "FRLA": one advisory lock key for the audit chain
FIELDS = ("seq", "time", "actor", "action", "target", "details", "prev")


class PgAuditLog:
    """Appends entries to the ``audit`` table (the interface of ``AuditLog``).

    Args:
        engine: the records database (migrated).
        key: HMAC key for the chain; None uses plain SHA-256.
        clock: returns the current time (tests pass a fixed clock).
    """

    def __init__(
        self,
        engine: Engine,
        key: bytes | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self._key = key
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def key(self) -> bytes | None:
        """The HMAC key of the chain (None: plain SHA-256)."""
        return self._key

    def append(
        self,
        actor: str,
        action: str,
        *,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry and return it (card numbers in it are masked first).

        Raises:
            AuditError: no actor or action, ``details`` is not JSON-serializable,
                or the database refused the write.
        """
        try:
            with self.engine.begin() as conn:
                return self.append_in(conn, actor, action, target=target, details=details)
        except SQLAlchemyError as exc:  # the commit
            raise AuditError(f"cannot append to the audit table: {db_error(exc)}") from exc

    def append_in(
        self,
        conn: Connection,
        actor: str,
        action: str,
        *,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """``append`` in the caller's transaction: the entry commits or rolls back with it.

        ``conn`` must be on this chain's database. The chain lock is
        transaction-scoped, so other writers wait until the caller commits:
        keep the rest of that transaction short.

        Raises:
            AuditError: as ``append`` (the caller's transaction should then roll back).
        """
        body = entry_body(actor, action, target, details, self._clock())
        try:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
            last = conn.execute(
                select(audit.c.seq, audit.c.hash).order_by(audit.c.seq.desc()).limit(1)
            ).first()
            body["seq"], body["prev"] = (last[0] + 1, last[1]) if last else (0, GENESIS)
            data = canonical(body)
            digest = chain_digest(data, self._key)
            conn.execute(audit.insert().values(**body, hash=digest, body=data.decode()))
        except SQLAlchemyError as exc:
            raise AuditError(f"cannot append to the audit table: {db_error(exc)}") from exc
        return AuditEntry(**body, hash=digest)

    def verify(self, expected_head: str | None = None) -> AuditVerification:
        """Check the whole chain (see :func:`verify_chain`)."""
        return verify_chain(self.engine, self._key, expected_head)


def verify_chain(
    engine: Engine, key: bytes | None = None, expected_head: str | None = None
) -> AuditVerification:
    """Check the whole chain in the ``audit`` table.

    Args:
        engine: the records database.
        key: the HMAC key the chain was written with (None: plain SHA-256).
        expected_head: a head hash recorded elsewhere; the chain must contain it.

    Returns:
        The number of rows, the head hash and the problems, each naming the
        row's ``seq`` (and the field, when a column was changed).

    Raises:
        AuditError: the table cannot be read.
    """
    result = AuditVerification()
    prev, seq, hashes = GENESIS, 0, set()
    try:
        with engine.connect() as conn:
            rows = conn.execution_options(yield_per=1000).execute(
                select(audit).order_by(audit.c.seq)
            )
            for row in rows.mappings():
                result.problems.extend(_check_row(row, seq, prev, key))
                prev, seq = str(row["hash"]), int(row["seq"]) + 1
                hashes.add(prev)
                result.entries += 1
    except SQLAlchemyError as exc:
        raise AuditError(f"cannot read the audit table: {db_error(exc)}") from exc
    result.head = prev
    if expected_head is not None and expected_head not in hashes:
        result.problems.append("expected head hash not found: the chain was truncated or rewritten")
    return result


def _check_row(row: RowMapping, seq: int, prev: str, key: bytes | None) -> list[str]:
    where = f"seq {row['seq']}"
    problems: list[str] = []
    if row["seq"] != seq:
        problems.append(f"{where}: sequence {row['seq']} where {seq} was expected (rows deleted)")
    if not hmac.compare_digest(str(row["hash"]), chain_digest(str(row["body"]).encode(), key)):
        problems.append(f"{where}: field body or hash: hash mismatch (edited, or wrong key)")
        return problems
    try:
        body = json.loads(row["body"])
    except ValueError:
        return [*problems, f"{where}: field body: not valid JSON"]
    if body.get("prev") != prev:
        problems.append(f"{where}: field prev: does not chain to the previous row")
    for name in FIELDS:
        if row[name] != body.get(name):
            problems.append(f"{where}: field {name}: changed after it was hashed")
    return problems
