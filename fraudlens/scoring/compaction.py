"""Decision-log compaction: merge a day's small part files into one.

Writers (API replicas, stream scorers) each add a small ``part-*.parquet`` per
flush, so a busy day holds thousands of files. ``compact_day`` merges them:

1. snapshot the complete files of the day folder (writers' files in progress
   are dot files, so a snapshot never holds a partial file);
2. read them, drop repeated decisions (at-least-once writers may log the same
   decision twice: same ``decision_id`` from the same ``source``; the one
   scored first stays);
3. write the merged table to a dot file, read it back and check the rows,
   then rename it to ``compacted-*.parquet`` (atomic on one filesystem);
4. only then remove the snapshot's files.

A crash between 3 and 4 leaves the new file *and* the old ones: no row is
lost, and ``read_log`` drops the repeats (it dedupes on the same keys), so
readers never see a decision twice; the next run merges the leftovers.
Files written after the snapshot are left alone and merged by the next run.

Do not run compaction at the same time as retention or erasure
(``fraudlens privacy ...``) on the same day: an erasure that rewrites a file
after the snapshot would be undone by the merged copy.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudlens.errors import DataError
from fraudlens.security._parquet import fsync_dir, read_table

logger = logging.getLogger(__name__)

DEDUPE_KEYS = ("decision_id", "source")
COMPACTED_PREFIX = "compacted-"


@dataclass(frozen=True)
class Compaction:
    """What ``compact_day`` did for one day folder.

    Attributes:
        day: the ``YYYY-MM-DD`` of the folder.
        files_in: files merged (and removed).
        rows_in: rows read from them.
        rows_out: rows in the merged file (``rows_in`` minus repeats).
        output: the merged file (None: nothing to do).
    """

    day: str
    files_in: int
    rows_in: int
    rows_out: int
    output: Path | None

    @property
    def duplicates(self) -> int:
        """Repeated decisions dropped."""
        return self.rows_in - self.rows_out


def live_files(folder: Path) -> list[Path]:
    """The complete Parquet files of one day folder (dot files are in progress)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.parquet") if p.is_file() and not p.name.startswith("."))


def dedupe(table: pa.Table, keys: tuple[str, ...] = DEDUPE_KEYS) -> pa.Table:
    """Keep one row of each ``keys`` combination (all rows if a key column is absent).

    The one kept is the earliest ``scored_at`` (ties, or no such column: the
    first in file order), the one PostgreSQL keeps: a transaction scored again
    after a promotion has the same decision id, and its first decision stands
    whatever the order of the files. Rows come back in file order.
    """
    if table.num_rows == 0 or not all(k in table.column_names for k in keys):
        return table
    positions = pa.array(range(table.num_rows), pa.int64())
    rank = positions  # file order
    if "scored_at" in table.column_names:  # a stable sort: ties keep file order
        rank = pc.sort_indices(table, sort_keys=[("scored_at", "ascending")])
    indexed = table.select(list(keys)).take(rank).append_column("__pos", positions)
    first = indexed.group_by(list(keys), use_threads=False).aggregate([("__pos", "min")])
    rows = pc.take(rank, first["__pos_min"])
    return table.take(pc.take(rows, pc.sort_indices(rows)))  # kept rows, in file order


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def compact_day(folder: Path, keys: tuple[str, ...] = DEDUPE_KEYS) -> Compaction:
    """Merge the part files of one ``date=YYYY-MM-DD`` folder into one file.

    Args:
        folder: the day folder.
        keys: columns identifying one decision (repeats are dropped).

    Raises:
        DataError: a file cannot be read, or the merged file does not read
            back with the expected rows (the old files are then kept).
    """
    day = folder.name.removeprefix("date=")
    files = live_files(folder)
    if len(files) < 2:
        return Compaction(day, 0, 0, 0, None)
    tables = [read_table(p) for p in files]
    merged = pa.concat_tables(tables, promote_options="permissive")
    table = dedupe(merged, keys)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"{COMPACTED_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = folder / f".{name}.tmp"  # readers and other compactions skip dot files
    try:
        pq.write_table(table, tmp, coerce_timestamps="us", allow_truncated_timestamps=True)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        back = pq.read_table(tmp)
        if back.num_rows != table.num_rows or dedupe(back, keys).num_rows != table.num_rows:
            raise DataError(f"{tmp}: merged file reads back {back.num_rows} rows")
        os.replace(tmp, folder / name)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(folder)
    # Now every row is in the new file: removing the old ones loses nothing.
    _remove(files)
    fsync_dir(folder)
    logger.info(
        "compacted %s: %d files, %d rows -> %d (%d repeats dropped)",
        day,
        len(files),
        merged.num_rows,
        table.num_rows,
        merged.num_rows - table.num_rows,
    )
    return Compaction(day, len(files), merged.num_rows, table.num_rows, folder / name)


def compact_log(
    base_dir: Path, *, before: date | None = None, day: date | None = None
) -> list[Compaction]:
    """Compact every day folder of a log before ``before`` (default: today, UTC), or one ``day``.

    Today's folder is left alone by default: writers are still adding to it.
    """
    if day is not None:
        folders = [base_dir / f"date={day:%Y-%m-%d}"]
    else:
        limit = f"date={before or datetime.now(UTC).date():%Y-%m-%d}"
        folders = sorted(p for p in base_dir.glob("date=*") if p.is_dir() and p.name < limit)
    return [compact_day(f) for f in folders if f.is_dir()]
