"""The decision log: every decision, with its features, score and model version.

Rows are buffered and written as Parquet files partitioned by the
transaction's UTC day (``<dir>/date=YYYY-MM-DD/part-*.parquet``), for
monitoring, drift detection and audit. Each writer (API replica, stream
scorer) writes its own files, so writers never contend for one file; a file
appears under its final name only once complete. ``compaction`` merges a
day's files into one; ``read_log`` drops repeated decisions (at-least-once
writers, or a compaction stopped before removing the files it merged).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from fraudlens.scoring.compaction import dedupe
from fraudlens.scoring.result import FeatureRow, ScoreResult

logger = logging.getLogger(__name__)

FEATURE_PREFIX = "f_"


class ParquetLog:
    """Buffers dict rows and writes them as day-partitioned Parquet files.

    Args:
        base_dir: root of the dataset.
        source: who writes (``api``, ``stream``, ``shadow``), part of file names.
        flush_rows: write once this many rows are buffered.
        flush_s: write at least this often while rows are buffered.
        time_column: the timestamp column whose UTC day picks the partition.
        chunk_rows: rows converted to Arrow together.
    """

    def __init__(
        self,
        base_dir: Path,
        source: str,
        *,
        flush_rows: int = 5000,
        flush_s: float = 5.0,
        time_column: str = "event_time",
        chunk_rows: int = 256,
    ) -> None:
        self.base_dir = base_dir
        self.source = source
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self.time_column = time_column
        # Rows become Arrow tables in chunks of ``chunk_rows``, on the writer
        # thread: one conversion per request costs ~90 us a row (a table of 60
        # columns has a fixed cost per column), a chunk of 256 ~30 us a row and
        # holds the GIL for a few ms only; the buffer keeps few Python objects
        # for the GC to walk, and a flush is a C++ concatenation and write.
        self.chunk_rows = chunk_rows
        # Per day, in arrival order: rows to convert, and tables of batches already in columns.
        self._pending: dict[str, list[dict[str, Any] | pa.Table]] = {}
        self._pending_rows = 0
        self._tables: list[tuple[str, pa.Table]] = []
        self._rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.written = 0

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Buffer rows; a background thread converts and writes them."""
        with self._lock:
            for row in rows:
                self._pending.setdefault(utc_day(row[self.time_column]), []).append(row)
            self._pending_rows += len(rows)
            self._rows += len(rows)
            wake = self._pending_rows >= self.chunk_rows or self._rows >= self.flush_rows
        if self._thread is None:
            self._start()
        if wake:
            self._wake.set()

    def append_table(self, table: pa.Table, days: Sequence[str]) -> None:
        """Buffer a batch already in columns (what ``append`` makes of its rows).

        Args:
            table: the batch's rows, the columns ``_to_table`` would give them.
            days: each row's partition (``utc_day`` of its time column).
        """
        parts = _by_day(table, days)
        with self._lock:
            for day, part in parts:
                self._pending.setdefault(day, []).append(part)
            self._rows += table.num_rows
            wake = self._rows >= self.flush_rows
        if self._thread is None:
            self._start()
        if wake:
            self._wake.set()

    def _convert(self) -> None:
        """Turn the pending Python rows into Arrow tables (one per day and run of rows)."""
        with self._lock:
            pending, self._pending, self._pending_rows = self._pending, {}, 0
        tables = [(day, table) for day, items in pending.items() for table in _to_tables(items)]
        with self._lock:
            self._tables.extend(tables)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name=f"fraudlens-log-{self.source}", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            try:
                if self._rows < self.flush_rows and time.monotonic() - last < self.flush_s:
                    self._convert()  # a chunk is ready, not yet a file
                    continue
                last = time.monotonic()
                self.flush()
            except Exception:  # keep logging decisions after a transient disk error
                logger.exception(
                    "writing the %s log failed; rows kept for the next try", self.source
                )

    def flush(self) -> int:
        """Write buffered rows now; returns how many were written."""
        self._convert()
        with self._lock:
            tables, self._tables = self._tables, []
            self._rows -= sum(t.num_rows for _, t in tables)  # rows appended since stay counted
        if not tables:
            return 0
        by_day: dict[str, list[pa.Table]] = {}
        for day, table in tables:
            by_day.setdefault(day, []).append(table)
        written = 0
        for day, parts in sorted(by_day.items()):
            try:
                self._write(day, pa.concat_tables(parts, promote_options="permissive"))
            except Exception:
                with self._lock:  # keep them for the next try
                    self._tables[:0] = [(day, t) for t in parts]
                    self._rows += sum(t.num_rows for t in parts)
                raise
            written += sum(t.num_rows for t in parts)
        self.written += written
        return written

    def _write(self, day: str, table: pa.Table) -> None:
        folder = self.base_dir / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"part-{self.source}-{self._writer_id}-{stamp}.parquet"
        tmp = folder / f".{name}.tmp"  # readers skip dot files
        pq.write_table(table, tmp, coerce_timestamps="us", allow_truncated_timestamps=True)
        tmp.rename(folder / name)

    def close(self) -> None:
        """Stop the writer thread and write what is left."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


def utc_day(time: datetime) -> str:
    """The partition of a row: its time's UTC day, ``YYYY-MM-DD``.

    ``date.isoformat`` is ``strftime("%Y-%m-%d")`` at a fifth of the cost (it runs
    for every logged row) except before year 1000, which glibc does not zero-pad.
    """
    day = time.astimezone(UTC).date()
    return day.isoformat() if day.year >= 1000 else day.strftime("%Y-%m-%d")


def _to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows to a table, column by column (rows may lack columns others have)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    return pa.table({name: [row.get(name) for row in rows] for name in names})


def _to_tables(items: list[dict[str, Any] | pa.Table]) -> list[pa.Table]:
    """Pending items of one day as tables, in order: each run of rows becomes one."""
    tables: list[pa.Table] = []
    rows: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, pa.Table):
            if rows:
                tables.append(_to_table(rows))
                rows = []
            tables.append(item)
        else:
            rows.append(item)
    if rows:
        tables.append(_to_table(rows))
    return tables


def _by_day(table: pa.Table, days: Sequence[str]) -> list[tuple[str, pa.Table]]:
    """The rows of each day, in order (one day: the table itself)."""
    first = days[0] if days else ""
    if all(day == first for day in days):
        return [(first, table)] if days else []
    rows: dict[str, list[int]] = {}
    for i, day in enumerate(days):
        rows.setdefault(day, []).append(i)
    return [(day, table.take(pa.array(idx, pa.int64()))) for day, idx in rows.items()]


class DecisionLog:
    """Records every ``ScoreResult`` in a ``ParquetLog``.

    Args:
        base_dir: root of the decision dataset (``DATA_DIR/decisions`` by default).
        source: ``api`` or ``stream``.
        **kwargs: passed to ``ParquetLog``.
    """

    def __init__(self, base_dir: Path, source: str, **kwargs: Any) -> None:
        self.log = ParquetLog(base_dir, source, **kwargs)
        if self.log.time_column not in ("event_time", "scored_at"):
            raise ValueError(
                f"a decision log partitions by event_time or scored_at, not {self.log.time_column!r}"
            )
        self.source = source

    def write(self, results: Sequence[ScoreResult]) -> None:
        """Buffer one batch of decisions.

        A batch of at least ``chunk_rows`` (a ``/v1/score/batch`` call, a
        stream batch) goes in as one table built column by column from its
        feature matrix (``decision_table``), not as a dict per row converted
        later: the same columns and values, a tenth of the time. Smaller
        batches (coalesced ``/v1/score`` calls) stay rows, converted in chunks.
        """
        now = datetime.now(UTC)
        table = (
            decision_table(results, self.source, now)
            if len(results) >= self.log.chunk_rows
            else None
        )
        if table is None:
            self.log.append([decision_row(r, self.source, now) for r in results])
        elif self.log.time_column == "scored_at":
            self.log.append_table(table, [utc_day(now)] * len(results))
        else:
            self.log.append_table(table, [utc_day(r.event_time) for r in results])

    def flush(self) -> int:
        """Write buffered decisions now."""
        return self.log.flush()

    def close(self) -> None:
        """Write what is left and stop."""
        self.log.close()


def decision_row(result: ScoreResult, source: str, scored_at: datetime) -> dict[str, Any]:
    """One decision as a flat row (features as ``f_<name>`` columns)."""
    row = _fixed_row(result, source, scored_at)
    features = result.features
    if features:
        row.update(zip(_prefixed(tuple(features)), features.values(), strict=True))
    return row


def _fixed_row(result: ScoreResult, source: str, scored_at: datetime) -> dict[str, Any]:
    """A decision's columns before its features (``decision_row`` and ``decision_table``)."""
    return {
        "decision_id": result.decision_id,
        "transaction_id": result.transaction_id,
        "event_time": result.event_time,
        "scored_at": scored_at,
        "card_token": result.card_token,
        "score": result.score,
        "decision": result.decision,
        "model_version": result.model_version,
        "degraded": result.degraded,
        "review_threshold": result.thresholds[0],
        "decline_threshold": result.thresholds[1],
        # "[]" is json.dumps([]): most rows have no rule hit, many no reason.
        "rule_hits": json.dumps(result.rule_hits) if result.rule_hits else "[]",
        "reasons": _reasons_json(result) if result.reasons else "[]",
        "latency_ms": result.latency_ms,
        "source": source,
    }


def decision_table(
    results: Sequence[ScoreResult], source: str, scored_at: datetime
) -> pa.Table | None:
    """The ``decision_row``s of a scored batch as one table, built column by column.

    The same columns, in the same order, with the values ``_to_table`` gives
    the rows; the features are the columns of the batch's matrix. None when
    the results' features are not rows of one float matrix (hand-made or
    unpickled results): write their rows instead.
    """
    block = _feature_block(results)
    if block is None:
        return None
    names, matrix = block
    rows = [_fixed_row(r, source, scored_at) for r in results]
    columns: dict[str, Any] = {name: [row[name] for row in rows] for name in rows[0]}
    columns.update(zip(_prefixed(names), np.ascontiguousarray(matrix.T), strict=True))
    return pa.table(columns)


def _feature_block(results: Sequence[ScoreResult]) -> tuple[tuple[str, ...], np.ndarray] | None:
    """The results' feature names and rows, when every result views one float64 matrix."""
    if not results or not isinstance(results[0].features, FeatureRow):
        return None
    names, matrix, _ = results[0].features.batch()
    rows = []
    for result in results:
        features = result.features
        if not isinstance(features, FeatureRow):
            return None
        row_names, values, row = features.batch()
        if values is not matrix or (row_names is not names and tuple(row_names) != tuple(names)):
            return None
        rows.append(row)
    unique = tuple(names)
    if matrix.dtype != np.float64 or matrix.ndim != 2 or len(set(unique)) != len(unique):
        return None  # ints or float32 come out of tolist() as other types; repeats collapse
    if rows == list(range(len(rows))):
        return unique, matrix[: len(rows)]
    return unique, matrix[rows]


def _reasons_json(result: ScoreResult) -> str:
    return json.dumps([r.model_dump(exclude_none=True) for r in result.reasons])


@functools.lru_cache(maxsize=16)
def _prefixed(names: tuple[str, ...]) -> tuple[str, ...]:
    """Column names of features (one model's list at a time: computed once, not per row)."""
    return tuple(FEATURE_PREFIX + name for name in names)


def read_log(base_dir: Path, day: str | None = None) -> pd.DataFrame:
    """Read a decision (or shadow) log back, all days or one ``YYYY-MM-DD``.

    Files written under different model versions may carry different feature
    columns; missing ones come back as nulls. A decision logged twice (same
    ``decision_id`` and ``source``) comes back once.
    """
    root = base_dir / f"date={day}" if day else base_dir
    if not root.exists():
        return pd.DataFrame()
    files = sorted(str(p) for p in root.rglob("*.parquet") if not p.name.startswith("."))
    if not files:
        return pd.DataFrame()
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    table = ds.dataset(files, schema=schema, format="parquet").to_table()
    return dedupe(table).to_pandas()
