"""The Spark batch feature job: historical Parquet -> state rows + feature rows -> offline store.

``groupBy(entity).applyInArrow`` (the Arrow flavour of ``applyInPandas``:
no pandas round trip) hands each card's (or terminal's)
whole history to ``fraudlens.features.fold``, the code the stream job runs, so both
runners write the same rows. Labels become terminal fraud marks with the same
rule (``state.label_applies``, first fraud label per transaction). Then
``materialize`` fills the online store from the offline rows.

The same group also computes, for each of its transactions, the card (or
terminal) features from the state row at the transaction's time, with the
ODFV code (``fraudlens.features.transaction_rows``): a group returns its state
rows and its feature rows in one table (the other columns null), so each
history is folded once. Card and terminal feature rows are joined on
``transaction_id`` into the ``transaction_features`` rows training reads.

Spark writes to a staging folder; the files are then rewritten with the exact
Arrow schema of each view and replace the previous backfill's files in the
offline folder.
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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudlens.errors import DataError
from fraudlens.features.fold import fold_card, fold_terminal
from fraudlens.features.offline import (
    Folder,
    ensure_offline_folders,
    rows_to_table,
    state_schema,
    write_table,
)
from fraudlens.features.online_ids import CODE_COLUMNS, device_code, history_codes, ip_code
from fraudlens.features.registry import ALL_FEATURES
from fraudlens.features.repo import offline_path
from fraudlens.features.state import (
    CARD_COLUMNS,
    STATE_TS,
    TERMINAL_COLUMNS,
    US_PER_DAY,
    FraudMark,
    TxnEvent,
    coord,
    label_applies,
)
from fraudlens.features.transaction_rows import (
    CARD_NAMES,
    TERMINAL_NAMES,
    TIMESTAMP,
    TXN_KEY,
    TXN_TS,
    TXN_VIEW,
    card_columns_at,
    terminal_columns_at,
    transaction_schema,
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
# Optional string columns (online payments), folded as ``online_ids`` codes, and
# the codes an import stored beside its encrypted values.
ONLINE_ID_COLUMNS = tuple(CODE_COLUMNS)
_SPARK_TYPES = {"int64": "bigint", "float64": "double", "string": "string", "bytes": "binary"}


@dataclass(frozen=True)
class BackfillResult:
    """Row counts of one backfill."""

    transactions: int
    labels: int
    card_rows: int
    terminal_rows: int
    transaction_rows: int = 0  # per-transaction feature rows (transaction_features)
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


_DTYPES = {spec.name: spec.dtype for spec in ALL_FEATURES}
_ARROW = {"int64": pa.int64(), "float64": pa.float64()}


def _ddl(key: str, columns: tuple[tuple[str, str, str], ...], features: tuple[str, ...]) -> str:
    """Spark schema of a group's output: state columns, then feature row columns."""
    cols = ", ".join(f"{c} {_SPARK_TYPES[k]}" for c, _, k in columns)
    feats = ", ".join(f"{n} {_SPARK_TYPES[_DTYPES[n]]}" for n in features)
    return (
        f"{key} string, {STATE_TS} timestamp, {cols}, {TXN_KEY} string, {TXN_TS} timestamp, {feats}"
    )


def _group_table(
    state: pa.Table, key: str, ids: list[str], times_us: list[int], features: dict[str, list[Any]]
) -> pa.Table:
    """A group's state rows and feature rows in one table (the other side's columns null)."""
    arrays: dict[str, pa.Array] = {
        key: pa.array([state.column(key)[0].as_py() if state.num_rows else None] * len(ids)),
        TXN_KEY: pa.array(ids, pa.string()),
        TXN_TS: pa.array(times_us, pa.int64()).cast(TIMESTAMP),
    }
    arrays.update({n: pa.array(v, _ARROW[_DTYPES[n]]) for n, v in features.items()})
    rows = pa.table(arrays)
    return pa.concat_tables([state, rows], promote_options="default")


def _tune_gc() -> None:
    # As in the stream job: the fold allocates many small lists, and the
    # default gen-0 threshold makes cyclic GC cost more than the fold.
    if gc.get_threshold()[0] < 50_000:
        gc.set_threshold(50_000, 20, 100)


def _card_group(table: pa.Table) -> pa.Table:
    """All state rows of one card (Spark ``applyInArrow`` on its transactions)."""
    _tune_gc()
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    devices, ips = (
        history_codes(cols[name], cols[CODE_COLUMNS[name]], code)
        for name, code in (("device_id", device_code), ("ip_address", ip_code))
    )
    events = [
        TxnEvent(t, us, c, term, m, ctry, amount, coord(lat), coord(lon), dev, ip)
        for t, us, c, term, m, ctry, amount, lat, lon, dev, ip in zip(
            cols["transaction_id"],
            cols["time_us"],
            cols["card_token"],
            cols["terminal_id"],
            cols["merchant_id"],
            cols["country"],
            cols["amount"],
            cols["latitude"],
            cols["longitude"],
            devices,
            ips,
            strict=True,
        )
    ]
    key = cols["card_token"][0]
    states = fold_card(key, events)
    at = {row[STATE_TS]: row for row in states}
    features = card_columns_at(events, [at[e.time_us] for e in events])
    times = [e.time_us for e in events]
    table = _group_table(
        rows_to_table("card_state", states), "card_token", cols["transaction_id"], times, features
    )
    return table


def _terminal_group(max_delay_us: int, matured_delay_days: int) -> Callable[[pa.Table], pa.Table]:
    def fold(table: pa.Table) -> pa.Table:
        """All state rows of one terminal from its transactions (kind 0) and labels (1)."""
        _tune_gc()
        cols = {name: table.column(name).to_pylist() for name in table.column_names}
        key = str(cols["terminal_id"][0])
        txns: list[tuple[int, float]] = []
        txn_ids: list[str] = []
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
                txn_ids.append(txn_id)
            else:
                labels.append((time_us, txn_id, bool(is_fraud), txn_us))
        marks: dict[str, FraudMark] = {}
        for label_us, txn_id, is_fraud, txn_us in sorted(labels):  # first label wins
            if txn_id not in marks and label_applies(is_fraud, label_us, txn_us, max_delay_us):
                marks[txn_id] = FraudMark(txn_id, key, label_us, txn_us)
        states = fold_terminal(key, txns, marks.values(), matured_delay_days=matured_delay_days)
        at = {row[STATE_TS]: row for row in states}
        times = [t for t, _ in txns]
        features = terminal_columns_at(
            txns, [at[t] for t in times], matured_delay_days=matured_delay_days
        )
        state = rows_to_table("terminal_state", states)
        return _group_table(state, "terminal_id", txn_ids, times, features)

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
    spark: Any,
    transactions_path: Path,
    labels_path: Path,
    max_delay_us: int,
    matured_delay_days: int,
) -> tuple[Any, Any, Any, Any]:
    """Lazy Spark DataFrames: card rows, terminal rows, transactions, labels.

    ``matured_delay_days`` (``features.matured_delay_days``) sets the terminal
    states' retention and the matured windows of the feature rows.
    """
    from pyspark.sql import functions as F

    raw = _read(spark, transactions_path, list(TXN_COLUMNS[:7]))
    for optional in ("latitude", "longitude"):
        if optional not in raw.columns:
            raw = raw.withColumn(optional, F.lit(None).cast("double"))
    for optional in ONLINE_ID_COLUMNS:
        if optional not in raw.columns:
            raw = raw.withColumn(optional, F.lit(None).cast("string"))
        if CODE_COLUMNS[optional] not in raw.columns:
            raw = raw.withColumn(CODE_COLUMNS[optional], F.lit(None).cast("bigint"))
    txns = (
        raw.select(
            *TXN_COLUMNS[:6],
            *(F.col(c).cast("double").alias(c) for c in TXN_COLUMNS[6:]),
            *(F.col(c).cast("string").alias(c) for c in ONLINE_ID_COLUMNS),
            *(
                F.col(CODE_COLUMNS[c]).cast("bigint").alias(CODE_COLUMNS[c])
                for c in ONLINE_ID_COLUMNS
            ),
            F.unix_micros("event_time").alias("time_us"),
        )
        .drop("event_time")
        .dropDuplicates(["transaction_id"])
    )
    labels = _read(spark, labels_path, ["transaction_id", "is_fraud", "label_time"]).select(
        "transaction_id", "is_fraud", F.unix_micros("label_time").alias("time_us")
    )
    card_rows = txns.groupBy("card_token").applyInArrow(
        _card_group, _ddl("card_token", CARD_COLUMNS, CARD_NAMES)
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
        _terminal_group(max_delay_us, matured_delay_days),
        _ddl("terminal_id", TERMINAL_COLUMNS, TERMINAL_NAMES),
    )
    return card_rows, terminal_rows, txns, labels


def _feature_rows(spark: Any, staging: Path) -> Any:
    """Card and terminal feature rows of the staged group outputs, joined per transaction."""
    from pyspark.sql import functions as F

    def rows(view: str, names: tuple[str, ...]) -> Any:
        frame = spark.read.parquet(str(staging / view))
        return frame.where(F.col(TXN_KEY).isNotNull()).select(TXN_KEY, *names)

    cards = rows("card_state", (TXN_TS, *CARD_NAMES))
    terminals = rows("terminal_state", TERMINAL_NAMES)
    return cards.join(terminals, TXN_KEY).select(*transaction_schema().names)


def _publish(staging: Path, root: Path, view: Folder, schema: pa.Schema) -> int:
    """Rewrite Spark's part files with the view schema; replace the old backfill.

    Only rows with the schema's timestamp set belong to the view (the group
    outputs mix state rows and feature rows).
    """
    folder = root / view
    old = sorted(folder.glob(f"{BACKFILL_PREFIX}-*.parquet"))
    rows = 0
    stamp = schema.names[1]
    for part in sorted(staging.glob("*.parquet")):
        table = pq.read_table(part)
        table = table.filter(pc.is_valid(table.column(stamp))).select(schema.names).cast(schema)
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
    """Recompute every state row and feature row from historical Parquet into the offline store.

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
        spark,
        Path(transactions_path),
        Path(labels_path),
        max_delay_us,
        settings.features.matured_delay_days,
    )
    staging = root / f".staging-{uuid.uuid4().hex[:8]}"
    try:
        started = time.perf_counter()
        card_rows.write.parquet(str(staging / "card_state"))
        terminal_rows.write.parquet(str(staging / "terminal_state"))
        _feature_rows(spark, staging).write.parquet(str(staging / TXN_VIEW))
        spark_seconds = time.perf_counter() - started
        schemas: dict[Folder, pa.Schema] = {
            "card_state": state_schema("card_state"),
            "terminal_state": state_schema("terminal_state"),
            TXN_VIEW: transaction_schema(settings.features.matured_delay_days),
        }
        counts = {view: _publish(staging / view, root, view, s) for view, s in schemas.items()}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    publish_seconds = time.perf_counter() - started - spark_seconds
    result = BackfillResult(
        transactions=txns.count(),
        labels=labels.count(),
        card_rows=counts["card_state"],
        terminal_rows=counts["terminal_state"],
        transaction_rows=counts[TXN_VIEW],
        spark_seconds=spark_seconds,
        publish_seconds=publish_seconds,
    )
    logger.info("backfill: %s", result)
    return result
