"""GDPR erasure (Art. 17) across FraudLens stores (retention: ``retention.py``).

``erase_customer`` works in two phases over pluggable per-store erasers:

1. **discover**: starting from the customer id, each eraser adds the linked
   identifiers it knows (the transactions of the customer give their card
   tokens and transaction ids), until nothing new appears; a label, keyed
   only by transaction id, is found this way.
2. **erase**: each eraser removes every row matching any identifier. The
   stores that supplied links go last, and only when no other store failed,
   so a run that fails half-way can be repeated and still find everything.

Parquet stores are rewritten without the rows (temp file, verified, atomic
replace); the Feast online store loses the subject's entity keys
(``online_erasure``); the records database's rows are deleted in one
transaction (``records_erasure``). Crypto-shredding (one data key per customer, destroyed
on request) was considered and not chosen: Parquet files are cheap to rewrite and a
rewrite is provable by a scan, while per-customer keys would need a key store
with millions of entries, its own backups (which keep the "shredded" keys
alive) and a key lookup on every scoring call. Copies that cannot be
rewritten (Kafka topics, backups) expire by retention instead (see
``inventory``). One audit entry records each erasure, with a keyed reference
to the customer, never the id itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from fraudlens.errors import DataError, FraudLensError, ValidationError
from fraudlens.schema import ID_PATTERN
from fraudlens.security._parquet import column_names, parquet_files, read_table, replace_verified
from fraudlens.security.audit import Action, AuditTrail, audit_log_from_settings
from fraudlens.security.inventory import INVENTORY, SUBJECT_COLUMNS

if TYPE_CHECKING:
    from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class ErasureSubject:
    """Everything that identifies one person's rows."""

    customer_id: str
    card_tokens: set[str] = field(default_factory=set)
    transaction_ids: set[str] = field(default_factory=set)

    @property
    def customer_ids(self) -> set[str]:
        """The customer id as a set (to match like the other identifiers)."""
        return {self.customer_id}

    def values_for(self, column: str) -> set[str]:
        """Identifiers to match in ``column`` (empty for other columns)."""
        attr = SUBJECT_COLUMNS.get(column)
        return set(getattr(self, attr)) if attr else set()

    def size(self) -> int:
        """Number of identifiers known."""
        return 1 + len(self.card_tokens) + len(self.transaction_ids)


@dataclass
class StoreErasure:
    """What one eraser did."""

    store: str
    files_scanned: int = 0
    files_rewritten: int = 0
    rows_removed: int = 0


@dataclass
class ErasureReport:
    """Result of ``erase_customer`` (no personal data in it)."""

    subject_ref: str
    card_tokens: int
    transactions: int
    stores: list[StoreErasure]
    pending: list[str]
    failed: dict[str, str]
    deferred: list[str]
    audit_hash: str = ""

    @property
    def rows_removed(self) -> int:
        """Rows removed across all stores."""
        return sum(s.rows_removed for s in self.stores)

    @property
    def complete(self) -> bool:
        """True when every store was erased (nothing failed, deferred or pending)."""
        return not (self.failed or self.deferred or self.pending)


class Eraser(Protocol):
    """Removes one person's data from one store."""

    name: str

    def discover(self, subject: ErasureSubject) -> None:
        """Add identifiers linked to ``subject`` found in this store."""

    def erase(self, subject: ErasureSubject) -> StoreErasure:
        """Remove every row of ``subject`` from this store."""


class ParquetEraser:
    """Erases rows from every Parquet file under some folders.

    A row goes when its ``customer_id``, ``card_token`` or ``transaction_id``
    matches the subject; files with none of these columns are left alone.
    """

    def __init__(self, name: str, roots: Sequence[Path]) -> None:
        self.name = name
        self.roots = list(roots)

    def _files(self) -> list[Path]:
        return [p for root in self.roots for p in parquet_files(root)]

    def discover(self, subject: ErasureSubject) -> None:
        """Collect the card tokens and transaction ids of the customer's rows."""
        wanted = ("customer_id", "card_token", "transaction_id")
        for path in self._files():
            names = column_names(path)
            if "customer_id" not in names:
                continue
            table = read_table(path, [c for c in wanted if c in names])
            mine = table.filter(_matches(table, subject, ("customer_id",)))
            for column, attr in (
                ("card_token", "card_tokens"),
                ("transaction_id", "transaction_ids"),
            ):
                if column in mine.column_names:
                    getattr(subject, attr).update(
                        str(v) for v in mine.column(column).to_pylist() if v is not None
                    )

    def erase(self, subject: ErasureSubject) -> StoreErasure:
        """Rewrite each file that holds the subject's rows without them."""
        result = StoreErasure(self.name)
        for path in self._files():
            result.files_scanned += 1
            table = read_table(path)
            hit = _matches(table, subject, tuple(SUBJECT_COLUMNS))
            removed = pc.sum(hit).as_py() or 0
            if not removed:
                continue
            kept = table.filter(pc.invert(hit))

            def verify(written: pa.Table, kept: pa.Table = kept) -> None:
                if (
                    written.num_rows != kept.num_rows
                    or pc.any(_matches(written, subject, tuple(SUBJECT_COLUMNS))).as_py()
                ):
                    raise DataError("erasure verification failed: subject rows remain")

            replace_verified(path, kept, verify)
            result.files_rewritten += 1
            result.rows_removed += removed
        return result


def _matches(table: pa.Table, subject: ErasureSubject, columns: tuple[str, ...]) -> Any:
    hit: Any = pc.fill_null(pa.nulls(table.num_rows, pa.bool_()), False)
    for column in columns:
        values = subject.values_for(column)
        if column in table.column_names and values:
            col = table.column(column).cast(pa.string())
            found = pc.fill_null(pc.is_in(col, value_set=pa.array(sorted(values))), False)
            hit = pc.or_(hit, found)
    return hit


def parquet_erasers(settings: Settings) -> list[Eraser]:
    """Parquet erasers for every inventoried store with folders to rewrite."""
    return [ParquetEraser(a.name, a.paths(settings)) for a in INVENTORY if a.paths is not None]


def default_erasers(settings: Settings) -> list[Eraser]:
    """The Parquet erasers, the Feast online store's (SQLite or Redis) and, when it is in
    use, the records database's (decisions, labels, cases)."""
    from fraudlens.security.online_erasure import OnlineStoreEraser
    from fraudlens.security.records_erasure import RecordsEraser, records_in_use

    erasers: list[Eraser] = [*parquet_erasers(settings), OnlineStoreEraser(settings)]
    if records_in_use(settings):
        erasers.append(RecordsEraser(settings))
    return erasers


def subject_reference(settings: Settings, customer_id: str) -> str:
    """Keyed, one-way reference to a customer for the audit log (HMAC, token key)."""
    from fraudlens.security.tokenize import tokenizer_from_settings

    return tokenizer_from_settings(settings).tokenize_reference(f"erasure-subject:{customer_id}")


def erase_customer(
    settings: Settings,
    customer_id: str,
    *,
    actor: str = "cli",
    erasers: Sequence[Eraser] | None = None,
    audit: AuditTrail | None = None,
) -> ErasureReport:
    """Erase one customer's data from every store and record it in the audit log.

    Args:
        settings: FraudLens settings (paths, keys, audit log).
        customer_id: the customer to erase.
        actor: who asked (API principal or CLI user), for the audit log.
        erasers: per-store erasers, identifier-linking stores first (default:
            ``default_erasers(settings)``).
        audit: audit log (default: the configured one).

    Returns:
        The report; check ``complete`` (a failed store is recorded, audited
        and the rest still erased: run again once it is fixed).

    Raises:
        ValidationError: ``customer_id`` is not a valid id.
    """
    if not re.fullmatch(ID_PATTERN, customer_id):
        raise ValidationError("customer_id", "not a valid customer id")
    erasers = list(erasers) if erasers is not None else default_erasers(settings)
    subject = ErasureSubject(customer_id)
    linking: set[str] = set()  # stores that supplied linked identifiers
    for _ in range(5):  # linked ids settle in one or two rounds
        before = subject.size()
        for eraser in erasers:
            size = subject.size()
            eraser.discover(subject)
            if subject.size() > size:
                linking.add(eraser.name)
        if subject.size() == before:
            break
    results: list[StoreErasure] = []
    failed: dict[str, str] = {}
    deferred: list[str] = []
    order = sorted(erasers, key=lambda e: e.name in linking)  # linking stores last
    for eraser in order:
        if failed and eraser.name in linking:
            deferred.append(eraser.name)  # keep the links for the rerun
            continue
        try:
            results.append(eraser.erase(subject))
        except (FraudLensError, OSError) as exc:  # record it, erase the rest, audit it
            failed[eraser.name] = f"{type(exc).__name__}: {exc}"
            logger.error("erasure failed in store %s: %s", eraser.name, type(exc).__name__)
    done = {e.name for e in erasers}
    pending = [a.name for a in INVENTORY if a.name not in done and a.name in _NEEDS_ERASER]
    report = ErasureReport(
        subject_reference(settings, customer_id),
        len(subject.card_tokens),
        len(subject.transaction_ids),
        results,
        pending,
        failed,
        deferred,
    )
    entry = (audit or audit_log_from_settings(settings)).append(
        actor,
        Action.ERASURE,
        target=report.subject_ref,
        details={
            "stores": {r.store: r.rows_removed for r in results},
            "rows_removed": report.rows_removed,
            "pending": pending,
            "failed": sorted(failed),
            "deferred": deferred,
        },
    )
    report.audit_hash = entry.hash
    logger.info("erasure done: %d rows removed, pending stores %s", report.rows_removed, pending)
    return report


_NEEDS_ERASER = frozenset({"online_store"})
"""Stores holding identifiers that no path-based eraser covers (pending when left out)."""
