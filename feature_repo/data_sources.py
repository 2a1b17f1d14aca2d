"""Sources: state rows arrive by push (stream job) and live in Parquet (offline).

The offline folder comes from ``FRAUDLENS_FEAST__OFFLINE_PATH`` (the same
variable as the settings field ``feast.offline_path``); ``fraudlens features
apply`` sets it from the settings. Each state view reads every Parquet file
in its folder: the Spark backfill and the stream job add files there. So does
``transaction_features`` (one row of scalar features per transaction, stamped
with the transaction's event time).

``FRAUDLENS_FEAST__OFFLINE_STORE`` (``feast.offline_store``, also set by
fraudlens) picks how the offline store reads those folders: ``FileSource``
for DuckDB, ``SparkSource`` (the same Parquet) for Spark.
"""

from __future__ import annotations

import os
from pathlib import Path

from feast import Field, FileSource, PushSource, RequestSource
from feast.data_format import ParquetFormat
from feast.data_source import DataSource
from feast.types import Float64, Int64, PrimitiveFeastType, String

from fraudlens.features.odfv import REQUEST_FIELDS
from fraudlens.features.state import STATE_TS
from fraudlens.features.transaction_rows import TXN_TS, TXN_VIEW

OFFLINE_PATH = Path(
    os.environ.get("FRAUDLENS_FEAST__OFFLINE_PATH", Path(__file__).parent / "data" / "offline")
).resolve()

OFFLINE_STORE = os.environ.get("FRAUDLENS_FEAST__OFFLINE_STORE", "duckdb")

_TYPES: dict[str, PrimitiveFeastType] = {"int64": Int64, "float64": Float64, "string": String}


def _parquet_folder(name: str, path: Path, timestamp_field: str, description: str) -> DataSource:
    """A Parquet folder as the configured offline store reads it."""
    if OFFLINE_STORE == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (
            SparkSource,
        )

        return SparkSource(
            name=name,
            path=str(path),
            file_format="parquet",
            timestamp_field=timestamp_field,
            description=description,
        )
    if OFFLINE_STORE != "duckdb":
        raise ValueError(f"FRAUDLENS_FEAST__OFFLINE_STORE={OFFLINE_STORE!r}: duckdb or spark")
    return FileSource(
        name=name,
        path=str(path),
        file_format=ParquetFormat(),
        timestamp_field=timestamp_field,
        description=description,
    )


def _state_files(view: str) -> DataSource:
    return _parquet_folder(
        f"{view}_files",
        OFFLINE_PATH / view,
        STATE_TS,
        f"{view} rows (one per entity and event time), Parquet",
    )


card_state_push = PushSource(
    name="card_state_push",
    batch_source=_state_files("card_state"),
    description="Card state rows pushed by the stream feature job.",
)

terminal_state_push = PushSource(
    name="terminal_state_push",
    batch_source=_state_files("terminal_state"),
    description="Terminal state rows pushed by the stream feature job.",
)

transaction_feature_files = _parquet_folder(
    "transaction_feature_files",
    OFFLINE_PATH / TXN_VIEW,
    TXN_TS,
    "Per-transaction feature rows (Spark backfill, stream job), Parquet",
)

transaction_request = RequestSource(
    name="transaction_request",
    schema=[Field(name=name, dtype=_TYPES[kind]) for name, kind in REQUEST_FIELDS],
    description="The transaction being scored (time in microseconds since the epoch).",
)
