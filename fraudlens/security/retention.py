"""Retention (GDPR Art. 5(1)(e), PCI DSS 3.2.1): purge rows past each store's age limit.

Limits come from the inventory, overridden per store by
``security.retention_days``. Files are rewritten like erasure does (temp
file, verified, atomic replace); the records database's tables lose their old
rows in one transaction; one audit entry records each run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from fraudlens.errors import DataError
from fraudlens.security._parquet import parquet_files, read_table, replace_verified
from fraudlens.security.audit import Action, AuditTrail, audit_log_from_settings
from fraudlens.security.inventory import INVENTORY, DataAsset, retention_for
from fraudlens.security.records_erasure import prune_records, records_in_use

if TYPE_CHECKING:
    from fraudlens.settings import Settings


@dataclass
class RetentionReport:
    """Rows purged per store by ``apply_retention``."""

    cutoffs: dict[str, str] = field(default_factory=dict)
    rows_removed: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def apply_retention(
    settings: Settings,
    *,
    now: datetime | None = None,
    actor: str = "cli",
    audit: AuditTrail | None = None,
) -> RetentionReport:
    """Delete rows older than each store's retention (``fraudlens privacy retention``).

    Rows are dropped when their first present time column (see the inventory)
    is before ``now - retention_days``; in the records database, when it is in
    use, by the table's time column. One audit entry records the run.

    Raises:
        RecordsError: the records database is in use and cannot be pruned
            (the Parquet stores are pruned already; nothing is audited).
    """
    now = now or datetime.now(UTC)
    report = RetentionReport()
    tables: list[tuple[DataAsset, datetime]] = []
    for item in INVENTORY:
        days = retention_for(settings, item)
        if item.table is not None and days is not None and records_in_use(settings):
            tables.append((item, now - timedelta(days=days)))
            report.cutoffs[item.name] = tables[-1][1].isoformat()
        if item.paths is None or days is None:
            continue
        cutoff = now - timedelta(days=days)
        report.cutoffs[item.name] = cutoff.isoformat()
        report.rows_removed[item.name] = 0
        for path in (p for root in item.paths(settings) for p in parquet_files(root)):
            removed = _purge_file(path, item.time_columns, cutoff)
            if removed is None:
                report.skipped.append(f"{path}: no timestamp column {item.time_columns}")
            else:
                report.rows_removed[item.name] += removed
    if tables:
        report.rows_removed.update(prune_records(settings, tables))
    (audit or audit_log_from_settings(settings)).append(
        actor,
        Action.RETENTION_PURGE,
        target="all_stores",
        details={"cutoffs": report.cutoffs, "rows_removed": report.rows_removed},
    )
    return report


def _purge_file(path: Path, time_columns: tuple[str, ...], cutoff: datetime) -> int | None:
    table = read_table(path)
    name = next(
        (
            c
            for c in time_columns
            if c in table.column_names and pa.types.is_timestamp(table.schema.field(c).type)
        ),
        None,
    )
    if name is None:
        return None
    kind = table.schema.field(name).type
    # Naive timestamps are UTC by the FraudLens convention.
    bound = cutoff if kind.tz else cutoff.astimezone(UTC).replace(tzinfo=None)
    old = pc.fill_null(pc.less(table.column(name), pa.scalar(bound, type=kind)), False)
    removed = pc.sum(old).as_py() or 0
    if removed:
        kept = table.filter(pc.invert(old))

        def verify(written: pa.Table) -> None:
            if written.num_rows != kept.num_rows:
                raise DataError(f"{path}: retention rewrite lost or kept extra rows")

        replace_verified(path, kept, verify)
    return int(removed)
