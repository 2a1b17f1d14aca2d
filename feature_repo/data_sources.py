"""Sources: state rows arrive by push (stream job) and live in Parquet (offline).

The offline folder comes from ``FRAUDLENS_FEAST__OFFLINE_PATH`` (the same
variable as the settings field ``feast.offline_path``); ``fraudlens features
apply`` sets it from the settings. Each state view reads every Parquet file
in its folder: the Spark backfill and the stream job add files there. So does
``transaction_features`` (one row of scalar features per transaction, stamped
with the transaction's event time).
"""

from __future__ import annotations

import os
from pathlib import Path

from feast import Field, FileSource, PushSource, RequestSource
from feast.data_format import ParquetFormat
from feast.types import Float64, Int64, PrimitiveFeastType, String

from fraudlens.features.odfv import REQUEST_FIELDS
from fraudlens.features.state import STATE_TS
from fraudlens.features.transaction_rows import TXN_TS, TXN_VIEW

OFFLINE_PATH = Path(
    os.environ.get("FRAUDLENS_FEAST__OFFLINE_PATH", Path(__file__).parent / "data" / "offline")
).resolve()

_TYPES: dict[str, PrimitiveFeastType] = {"int64": Int64, "float64": Float64, "string": String}


def _state_files(view: str) -> FileSource:
    return FileSource(
        name=f"{view}_files",
        path=str(OFFLINE_PATH / view),
        file_format=ParquetFormat(),
        timestamp_field=STATE_TS,
        description=f"{view} rows (one per entity and event time), Parquet",
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

transaction_feature_files = FileSource(
    name="transaction_feature_files",
    path=str(OFFLINE_PATH / TXN_VIEW),
    file_format=ParquetFormat(),
    timestamp_field=TXN_TS,
    description="Per-transaction feature rows (Spark backfill, stream job), Parquet",
)

transaction_request = RequestSource(
    name="transaction_request",
    schema=[Field(name=name, dtype=_TYPES[kind]) for name, kind in REQUEST_FIELDS],
    description="The transaction being scored (time in microseconds since the epoch).",
)
