"""Append-only, hash-chained audit log (JSON lines): who did what, when.

Each line holds ``seq``, ``time``, ``actor``, ``action``, ``target``,
``details``, ``prev`` (the previous line's hash) and ``hash`` (SHA-256, or
HMAC-SHA256 when ``security.audit_hmac_key`` is set, over the canonical JSON
of the line without ``hash``). Editing, removing, inserting or reordering a
line breaks the chain at that line. Removing lines from the *end* leaves a
valid shorter chain, so each append also records the head in ``<log>.head``
and ``verify`` accepts an ``expected_head`` kept elsewhere (e.g. in the SIEM).
Appends take an exclusive ``flock`` on the file, so processes and threads on
one host can share a log; on shared network storage use one log per pod.

When ``records.database_url`` is set, the chain lives in PostgreSQL instead
(``fraudlens.records.audit.PgAuditLog``: one chain for every pod); both
implement ``AuditTrail``, which ``audit_log_from_settings`` returns.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from fraudlens.errors import AuditError, ConfigError
from fraudlens.security.pan_scan import scrub

if TYPE_CHECKING:
    from fraudlens.settings import Settings

GENESIS = "0" * 64


class Action(StrEnum):
    """Audited actions (free strings are accepted too)."""

    LABEL_SUBMITTED = "label.submitted"
    RULE_CHANGED = "rule.changed"
    LIST_CHANGED = "list.changed"
    MODEL_PROMOTED = "model.promoted"
    PROMOTION_REFUSED = "model.promotion_refused"
    KEYS_ROTATED = "keys.rotated"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    ERASURE = "privacy.erased"
    RETENTION_PURGE = "privacy.retention"


@dataclass(frozen=True)
class AuditEntry:
    """One appended line."""

    seq: int
    time: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev: str
    hash: str


@dataclass(frozen=True)
class AuditRecord:
    """The audit entry of a change; ``done`` says what ran if it cannot be written."""

    action: str
    target: str
    done: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuditVerification:
    """Result of ``verify``: ok only when there are no problems."""

    entries: int = 0
    head: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the whole chain checks out."""
        return not self.problems


class AuditTrail(Protocol):
    """What writers and verifiers of the audit chain need (file or PostgreSQL)."""

    @property
    def key(self) -> bytes | None:
        """The HMAC key of the chain (None: plain SHA-256)."""
        ...

    def append(
        self,
        actor: str,
        action: str,
        *,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry and return it."""
        ...

    def verify(self, expected_head: str | None = None) -> AuditVerification:
        """Check the whole chain."""
        ...


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The bytes an entry is hashed as (sorted keys, compact, UTF-8)."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_digest(data: bytes, key: bytes | None) -> str:
    """HMAC-SHA256 of canonical bytes (plain SHA-256 without a key)."""
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _digest(body: Mapping[str, Any], key: bytes | None) -> str:
    return chain_digest(canonical(body), key)


def entry_body(
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """The fields every audit entry carries (card numbers masked), checked.

    Raises:
        AuditError: no actor or action, or ``details`` is not JSON-serializable.
    """
    if not actor or not action:
        raise AuditError("an audit entry needs an actor and an action")
    body: dict[str, Any] = {
        "time": now.isoformat(),
        "actor": scrub(actor),
        "action": str(action),
        "target": scrub(target),
        "details": scrub(dict(details or {})),
    }
    try:
        json.dumps(body["details"])
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit details are not JSON-serializable: {exc}") from exc
    return body


class AuditLog:
    """Appends entries to one audit log file.

    Args:
        path: the JSON-lines file (created with mode 0600).
        key: HMAC key for the chain; None uses plain SHA-256.
        fsync: flush every entry to disk before returning (default True).
        clock: returns the current time (tests pass a fixed clock).
    """

    def __init__(
        self,
        path: Path,
        key: bytes | None = None,
        *,
        fsync: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = path
        self._key = key
        self._fsync = fsync
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def key(self) -> bytes | None:
        """The HMAC key of the chain (None: plain SHA-256)."""
        return self._key

    @property
    def head_path(self) -> Path:
        """Sidecar file holding the last sequence number and hash."""
        return self.path.with_name(self.path.name + ".head")

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
            AuditError: the file's last line is incomplete or unreadable, or
                ``details`` is not JSON-serializable.
        """
        fields = entry_body(actor, action, target, details, self._clock())
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            seq, prev = self._tail(handle)
            body: dict[str, Any] = {"seq": seq, **fields, "prev": prev}
            body["hash"] = _digest(body, self._key)
            handle.write(canonical(body) + b"\n")
            handle.flush()
            if self._fsync:
                os.fsync(handle.fileno())
            self._write_head(seq, body["hash"])
        return AuditEntry(**body)

    def verify(self, expected_head: str | None = None) -> AuditVerification:
        """Check this log's whole chain (see :func:`verify`)."""
        return verify(self.path, self._key, expected_head)

    def _tail(self, handle: BinaryIO) -> tuple[int, str]:
        line = _last_line(handle)
        if line is None:
            return 0, GENESIS
        if not line.endswith(b"\n"):
            raise AuditError(f"{self.path}: last line is incomplete; run `fraudlens audit verify`")
        try:
            last = json.loads(line)
            return int(last["seq"]) + 1, str(last["hash"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"{self.path}: last line is not an audit entry") from exc

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self.head_path.with_name(self.head_path.name + ".tmp")
        tmp.write_text(json.dumps({"seq": seq, "hash": digest}))
        os.replace(tmp, self.head_path)


def _last_line(handle: BinaryIO, chunk: int = 4096) -> bytes | None:
    end = handle.seek(0, os.SEEK_END)
    if end == 0:
        return None
    data = b""
    pos = end
    while pos > 0:
        step = min(chunk, pos)
        pos -= step
        handle.seek(pos)
        data = handle.read(step) + data
        cut = data.rfind(b"\n", 0, len(data) - 1)
        if cut >= 0:
            return data[cut + 1 :]
    return data


def verify(
    path: Path, key: bytes | None = None, expected_head: str | None = None
) -> AuditVerification:
    """Check the whole chain of the audit log at ``path``.

    Args:
        path: the audit log.
        key: the HMAC key the log was written with (None: plain SHA-256).
        expected_head: a head hash recorded elsewhere; the log must end with it
            or contain it (later appends are fine).

    Returns:
        The number of entries, the head hash and a list of problems, each
        naming its line number.
    """
    result = AuditVerification()
    head_file = path.with_name(path.name + ".head")
    if not path.exists():
        if head_file.exists():  # entries were written once: the log was deleted
            result.problems.append(f"{path} is missing but {head_file.name} exists")
        return result
    prev, seq, hashes = GENESIS, 0, set()
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            problem, entry = _check_line(raw, seq, prev, key)
            if problem:
                result.problems.append(f"line {number}: {problem}")
            if entry is None:
                continue
            # Resynchronise on the line just read, so one bad line gives one problem.
            prev, seq = str(entry["hash"]), _int(entry.get("seq"), seq) + 1
            hashes.add(prev)
            result.entries += 1
    result.head = prev
    if head_file.exists():
        try:
            recorded = json.loads(head_file.read_text())
        except ValueError:
            recorded = {}
        if recorded.get("hash") != prev:
            result.problems.append(
                f"log ends at seq {seq - 1} but {head_file.name} records seq "
                f"{recorded.get('seq')}: lines removed from the end, or the head file was edited"
            )
    if expected_head is not None and expected_head not in hashes:
        result.problems.append("expected head hash not found: the log was truncated or rewritten")
    return result


def _check_line(
    raw: bytes, seq: int, prev: str, key: bytes | None
) -> tuple[str | None, dict[str, Any] | None]:
    if not raw.endswith(b"\n"):
        return "incomplete line (crash during append?)", None
    try:
        entry = json.loads(raw)
    except ValueError:
        return "not valid JSON", None
    if not isinstance(entry, dict) or "hash" not in entry:
        return "not an audit entry", None
    body = {k: v for k, v in entry.items() if k != "hash"}
    if entry.get("seq") != seq:
        return f"sequence {entry.get('seq')} where {seq} was expected (removed or reordered)", entry
    if entry.get("prev") != prev:
        return "does not chain to the previous line (removed, inserted or reordered)", entry
    if not hmac.compare_digest(str(entry["hash"]), _digest(body, key)):
        return "hash mismatch: the line was edited (or the wrong key was given)", entry
    return None, entry


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) else default


def audit_log_from_settings(settings: Settings) -> AuditTrail:
    """The configured audit chain.

    The ``audit`` table in PostgreSQL when ``records.database_url`` is set
    (shared by every process and pod); otherwise the file at
    ``security.audit_log_path`` (default ``DATA_DIR/audit/audit.jsonl``).
    Production requires ``security.audit_hmac_key``: without it anyone who
    can write the chain could recompute a plain SHA-256 chain.

    Raises:
        ConfigError: no or a short HMAC key in production.
        RecordsError: the records database cannot be reached.
    """
    sec = settings.security
    key = sec.audit_hmac_key.get_secret_value().encode() if sec.audit_hmac_key else None
    if key is None and settings.mode == "production":
        raise ConfigError("security.audit_hmac_key is required in production mode")
    if key is not None and len(key) < 32:
        raise ConfigError("security.audit_hmac_key must be at least 32 bytes")
    if settings.records.database_url is not None:
        from fraudlens.records.audit import PgAuditLog
        from fraudlens.records.engine import engine_from_settings

        # No pool: appends are rare, and callers never dispose the trail.
        return PgAuditLog(engine_from_settings(settings, pool_size=0), key)
    return AuditLog(sec.audit_log_path or settings.data_dir / "audit" / "audit.jsonl", key)


def verify_audit_log(settings: Settings, expected_head: str | None = None) -> AuditVerification:
    """What ``fraudlens audit verify`` runs: check the configured audit log."""
    return audit_log_from_settings(settings).verify(expected_head)
