"""The Spark batch feature job: historical Parquet -> state rows -> offline store.

``groupBy(entity).applyInArrow`` (the Arrow flavour of ``applyInPandas``:
no pandas round trip for the list columns) hands each card's (or terminal's)
whole history to ``fraudlens.features.fold``, the code the stream job runs, so both
runners write the same rows. Labels become terminal fraud marks with the same
rule (``state.label_applies``, first fraud label per transaction). Then
``materialize`` fills the online store from the offline rows.

Spark writes to a staging folder; the files are then rewritten with the exact
Arrow schema of the state views (Spark names list items differently) and
replace the previous backfill's files in the offline folder.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fraudlens.errors import DataError
from fraudlens.features.fold import fold_card, fold_terminal
from fraudlens.features.offline import (
    View,
    ensure_offline_folders,
    rows_to_table,
    state_schema,
    write_table,
)
from fraudlens.features.repo import offline_path
from fraudlens.features.state import (
    CARD_COLUMNS,
    TERMINAL_COLUMNS,
    US_PER_DAY,
    FraudMark,
    TxnEvent,
    coord,
    label_applies,
)
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

BACKFILL_PREFIX = "backfill"
TXN_COLUMNS = (
    "transaction_id",
    "card_token",
    "terminal_id",
    "merchant_id",
    "country",
    "event_time",
    "amount",
    "latitude",
    "longitude",
)
_SPARK_TYPES = {"int64": "bigint", "float64": "double", "string": "string"}


@dataclass(frozen=True)
class BackfillResult:
    """Row counts of one backfill."""

    transactions: int
    labels: int
    card_rows: int
    terminal_rows: int
    spark_seconds: float = 0.0  # Spark: read, fold (applyInPandas), write staging Parquet
    publish_seconds: float = 0.0  # rewrite with the view schema into the offline folder


def spark_session(settings: Settings) -> Any:
    """A SparkSession for the feature job (master from ``settings.spark``)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(settings.spark.master)
        .appName("fraudlens-features")
        .config("spark.driver.memory", settings.spark.driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.spark.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def _ddl(key: str, columns: tuple[tuple[str, str, str], ...]) -> str:
    cols = ", ".join(f"{c} array<{_SPARK_TYPES[k]}>" for c, _, k in columns)
    return f"{key} string, state_ts timestamp, {cols}"


def _tune_gc() -> None:
    # As in the stream job: the fold allocates many small lists, and the
    # default gen-0 threshold makes cyclic GC cost more than the fold.
    if gc.get_threshold()[0] < 50_000:
        gc.set_threshold(50_000, 20, 100)


def _card_group(table: pa.Table) -> pa.Table:
    """All state rows of one card (Spark ``applyInArrow`` on its transactions)."""
    _tune_gc()
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    events = [
        TxnEvent(t, us, c, term, m, ctry, amount, coord(lat), coord(lon))
        for t, us, c, term, m, ctry, amount, lat, lon in zip(
            cols["transaction_id"],
            cols["time_us"],
            cols["card_token"],
            cols["terminal_id"],
            cols["merchant_id"],
            cols["country"],
            cols["amount"],
            cols["latitude"],
            cols["longitude"],
            strict=True,
        )
    ]
    return rows_to_table("card_state", fold_card(cols["card_token"][0], events))


def _terminal_group(max_delay_us: int) -> Callable[[pa.Table], pa.Table]:
    def fold(table: pa.Table) -> pa.Table:
        """All state rows of one terminal from its transactions (kind 0) and labels (1)."""
        _tune_gc()
        cols = {name: table.column(name).to_pylist() for name in table.column_names}
        key = str(cols["terminal_id"][0])
        txns: list[tuple[int, float]] = []
        labels: list[tuple[int, str, bool, int]] = []
        for kind, time_us, txn_id, is_fraud, txn_us, amount in zip(
            cols["kind"],
            cols["time_us"],
            cols["transaction_id"],
            cols["is_fraud"],
            cols["txn_us"],
            cols["amount"],
            strict=True,
        ):
            if kind == 0:
                txns.append((time_us, amount))
            else:
                labels.append((time_us, txn_id, bool(is_fraud), txn_us))
        marks: dict[str, FraudMark] = {}
        for label_us, txn_id, is_fraud, txn_us in sorted(labels):  # first label wins
            if txn_id not in marks and label_applies(is_fraud, label_us, txn_us, max_delay_us):
                marks[txn_id] = FraudMark(txn_id, key, label_us, txn_us)
        return rows_to_table("terminal_state", fold_terminal(key, txns, marks.values()))

    return fold


def _read(spark: Any, path: Path, required: list[str]) -> Any:
    if not path.exists():
        raise DataError(f"{path} does not exist")
    frame = spark.read.parquet(str(path))
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{path.name} lacks columns {missing}")
    return frame


def state_frames(
    spark: Any, transactions_path: Path, labels_path: Path, max_delay_us: int
) -> tuple[Any, Any, Any, Any]:
    """Lazy Spark DataFrames: card rows, terminal rows, transactions, labels."""
    from pyspark.sql import functions as F

    raw = _read(spark, transactions_path, list(TXN_COLUMNS[:7]))
    for optional in ("latitude", "longitude"):
        if optional not in raw.columns:
            raw = raw.withColumn(optional, F.lit(None).cast("double"))
    txns = (
        raw.select(
            *TXN_COLUMNS[:6],
            *(F.col(c).cast("double").alias(c) for c in TXN_COLUMNS[6:]),
            F.unix_micros("event_time").alias("time_us"),
        )
        .drop("event_time")
        .dropDuplicates(["transaction_id"])
    )
    labels = _read(spark, labels_path, ["transaction_id", "is_fraud", "label_time"]).select(
        "transaction_id", "is_fraud", F.unix_micros("label_time").alias("time_us")
    )
    card_rows = txns.groupBy("card_token").applyInArrow(
        _card_group, _ddl("card_token", CARD_COLUMNS)
    )
    marks = labels.join(
        txns.select("transaction_id", "terminal_id", F.col("time_us").alias("txn_us")),
        "transaction_id",
    )
    items = txns.select(
        "terminal_id",
        "time_us",
        F.lit(0).alias("kind"),
        "transaction_id",
        F.lit(None).cast("boolean").alias("is_fraud"),
        F.lit(None).cast("bigint").alias("txn_us"),
        "amount",
    ).unionByName(
        marks.select(
            "terminal_id",
            "time_us",
            F.lit(1).alias("kind"),
            "transaction_id",
            "is_fraud",
            "txn_us",
            F.lit(None).cast("double").alias("amount"),
        )
    )
    terminal_rows = items.groupBy("terminal_id").applyInArrow(
        _terminal_group(max_delay_us), _ddl("terminal_id", TERMINAL_COLUMNS)
    )
    return card_rows, terminal_rows, txns, labels


def _publish(staging: Path, root: Path, view: View) -> int:
    """Rewrite Spark's part files with the view schema; replace the old backfill."""
    folder = root / view
    old = sorted(folder.glob(f"{BACKFILL_PREFIX}-*.parquet"))
    rows = 0
    for part in sorted(staging.glob("*.parquet")):
        table = pq.read_table(part).cast(state_schema(view))
        rows += table.num_rows
        write_table(root, view, table, f"{BACKFILL_PREFIX}-new")
    for path in old:
        path.unlink()
    for path in folder.glob(f"{BACKFILL_PREFIX}-new-*.parquet"):
        path.rename(folder / path.name.replace(f"{BACKFILL_PREFIX}-new-", f"{BACKFILL_PREFIX}-"))
    return rows


def backfill(
    settings: Settings,
    transactions_path: Path,
    labels_path: Path,
    *,
    spark: Any | None = None,
) -> BackfillResult:
    """Recompute every state row from historical Parquet into the offline store.

    Args:
        settings: FraudLens settings (``spark.master``, ``feast.offline_path``...).
        transactions_path: Parquet of transactions (``schema.Transaction`` columns).
        labels_path: Parquet of labels (``transaction_id``, ``is_fraud``, ``label_time``).
        spark: an existing SparkSession; one is created from the settings if None.

    Returns:
        Input and output row counts.

    Raises:
        DataError: a file or a required column is missing.
    """
    spark = spark or spark_session(settings)
    root = offline_path(settings)
    ensure_offline_folders(root)
    max_delay_us = settings.feast.max_label_delay_days * US_PER_DAY
    card_rows, terminal_rows, txns, labels = state_frames(
        spark, Path(transactions_path), Path(labels_path), max_delay_us
    )
    staging = root / f".staging-{uuid.uuid4().hex[:8]}"
    try:
        started = time.perf_counter()
        card_rows.write.parquet(str(staging / "card_state"))
        terminal_rows.write.parquet(str(staging / "terminal_state"))
        spark_seconds = time.perf_counter() - started
        counts = {
            view: _publish(staging / view, root, view) for view in ("card_state", "terminal_state")
        }
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    publish_seconds = time.perf_counter() - started - spark_seconds
    result = BackfillResult(
        transactions=txns.count(),
        labels=labels.count(),
        card_rows=counts["card_state"],
        terminal_rows=counts["terminal_state"],
        spark_seconds=spark_seconds,
        publish_seconds=publish_seconds,
    )
    logger.info("backfill: %s", result)
    return result
