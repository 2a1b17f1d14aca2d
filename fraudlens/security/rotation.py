"""Key rotation: re-encrypt ciphertext columns under the active key, losing nothing.

Each Parquet file is rewritten to a temporary file, read back and checked row
by row (same row count, every non-encrypted column identical, every
ciphertext now under the active key and decrypting to the same plaintext as
before), and only then atomically swapped in. Values already under the active
key are left as they are, so a run interrupted half-way can simply be re-run.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from fraudlens.errors import DataError, EncryptionError
from fraudlens.security._parquet import parquet_files, read_table, replace_verified
from fraudlens.security.encryption import KeyRing, field_context, is_ciphertext, key_id_of

if TYPE_CHECKING:
    from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncryptedTable:
    """Where ciphertexts live in one store.

    Attributes:
        table: logical table name bound into each ciphertext's context.
        columns: ciphertext columns (absent ones are skipped).
        record_id_column: the record id bound into each ciphertext's context.
    """

    table: str
    columns: tuple[str, ...]
    record_id_column: str = "transaction_id"


@dataclass
class FileRotation:
    """What rotating one file did."""

    path: str
    rows: int = 0
    reencrypted: int = 0
    already_current: int = 0
    plaintext: int = 0
    verified: bool = False


@dataclass
class RotationReport:
    """Result of ``rotate_keys``: per-file counts and the key usage afterwards."""

    active_kid: str
    files: list[FileRotation] = field(default_factory=list)
    key_usage: dict[str, int] = field(default_factory=dict)

    @property
    def reencrypted(self) -> int:
        """Ciphertexts moved to the active key in this run."""
        return sum(f.reencrypted for f in self.files)

    @property
    def old_keys_in_use(self) -> list[str]:
        """Key ids other than the active one still found (empty: safe to retire them)."""
        return sorted(k for k, n in self.key_usage.items() if k != self.active_kid and n)


def rotate_table(
    table: pa.Table, ring: KeyRing, spec: EncryptedTable
) -> tuple[pa.Table, Counter[str]]:
    """Return ``table`` with every ciphertext under the active key, and counts.

    The counts are ``reencrypted``, ``already_current`` and ``plaintext`` (a
    non-ciphertext value in an encrypted column: left alone and reported).
    """
    counts: Counter[str] = Counter()
    present = [c for c in spec.columns if c in table.column_names]
    if not present:
        return table, counts
    ids = _record_ids(table, spec)
    for name in present:
        values = table.column(name).to_pylist()
        out: list[Any] = []
        for rid, value in zip(ids, values, strict=True):
            if value is None:
                out.append(None)
            elif not is_ciphertext(value):
                counts["plaintext"] += 1
                out.append(value)
            elif key_id_of(value) == ring.active_kid:
                counts["already_current"] += 1
                out.append(value)
            else:
                out.append(ring.reencrypt(value, field_context(spec.table, name, rid)))
                counts["reencrypted"] += 1
        index = table.column_names.index(name)
        table = table.set_column(
            index, table.field(name), pa.array(out, type=table.field(name).type)
        )
    return table, counts


def verify_rotation(before: pa.Table, after: pa.Table, ring: KeyRing, spec: EncryptedTable) -> None:
    """Check, row by row, that ``after`` holds exactly the data of ``before``.

    Raises:
        DataError: a row was lost or changed, or a ciphertext is not under the
            active key.
    """
    if after.num_rows != before.num_rows or after.column_names != before.column_names:
        raise DataError("rotation changed the row count or the columns")
    present = [c for c in spec.columns if c in before.column_names]
    others = [c for c in before.column_names if c not in present]
    if not after.select(others).equals(before.select(others)):
        raise DataError("rotation changed a column that is not encrypted")
    ids = _record_ids(before, spec)
    for name in present:
        old_values = before.column(name).to_pylist()
        new_values = after.column(name).to_pylist()
        for row, (rid, old, new) in enumerate(zip(ids, old_values, new_values, strict=True)):
            if not is_ciphertext(old):
                if old != new:
                    raise DataError(f"row {row}, column {name}: value changed")
                continue
            context = field_context(spec.table, name, rid)
            if key_id_of(new) != ring.active_kid or ring.decrypt(new, context) != ring.decrypt(
                old, context
            ):
                raise DataError(f"row {row}, column {name}: round trip failed")


def rotate_parquet_file(path: Path, ring: KeyRing, spec: EncryptedTable) -> FileRotation:
    """Rotate one Parquet file in place (temp file, full verification, atomic replace)."""
    before = read_table(path)
    after, counts = rotate_table(before, ring, spec)
    result = FileRotation(
        str(path),
        rows=before.num_rows,
        reencrypted=counts["reencrypted"],
        already_current=counts["already_current"],
        plaintext=counts["plaintext"],
    )
    if result.reencrypted:
        replace_verified(path, after, lambda written: verify_rotation(before, written, ring, spec))
    result.verified = True
    return result


def key_usage(table: pa.Table, columns: tuple[str, ...]) -> Counter[str]:
    """Count ciphertexts per key id in ``columns`` of ``table``."""
    usage: Counter[str] = Counter()
    for name in columns:
        if name in table.column_names:
            usage.update(key_id_of(v) for v in table.column(name).to_pylist() if is_ciphertext(v))
    return usage


def rotate_keys(settings: Settings, *, actor: str = "cli") -> RotationReport:
    """Re-encrypt every encrypted column of every inventoried Parquet store.

    This is what ``fraudlens keys rotate`` runs. Set the new key as
    ``security.active_encryption_key`` first and keep the old key configured
    until the report's ``old_keys_in_use`` is empty. One audit entry records
    the run (counts only).
    """
    from fraudlens.security.audit import Action, audit_log_from_settings
    from fraudlens.security.encryption import keyring_from_settings
    from fraudlens.security.inventory import INVENTORY

    ring = keyring_from_settings(settings)
    report = RotationReport(ring.active_kid)
    usage: Counter[str] = Counter()
    for item in INVENTORY:
        if not item.encrypted_columns or item.paths is None:
            continue
        spec = EncryptedTable(item.name, item.encrypted_columns, item.record_id_column)
        for root in item.paths(settings):
            for path in parquet_files(root):
                report.files.append(rotate_parquet_file(path, ring, spec))
                usage.update(key_usage(read_table(path), spec.columns))
    report.key_usage = dict(usage)
    plaintext = sum(f.plaintext for f in report.files)
    if plaintext:
        logger.warning("%d unencrypted values found in encrypted columns", plaintext)
    audit_log_from_settings(settings).append(
        actor,
        Action.KEYS_ROTATED,
        target="encryption_keys",
        details={
            "active_kid": ring.active_kid,
            "files": len(report.files),
            "reencrypted": report.reencrypted,
            "plaintext_found": plaintext,
            "key_usage": report.key_usage,
        },
    )
    return report


def _record_ids(table: pa.Table, spec: EncryptedTable) -> list[str]:
    if spec.record_id_column not in table.column_names:
        raise EncryptionError(
            f"{spec.table}: record id column {spec.record_id_column!r} is missing, "
            "ciphertexts cannot be bound to their rows"
        )
    ids = table.column(spec.record_id_column).to_pylist()
    if any(rid is None for rid in ids):
        raise EncryptionError(f"{spec.table}: a row has no {spec.record_id_column}")
    return [str(rid) for rid in ids]
