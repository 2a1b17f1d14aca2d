"""State rows and feature rows as Parquet files: the offline store's storage.

Each view reads the folder ``OFFLINE/<view>/`` (every Parquet file in it): the
two state views, and ``transaction_features`` (one scalar feature row per
transaction, ``fraudlens.features.transaction_rows``). Writers add whole files
(written to a temporary name, then renamed), so readers never see half a
file and nobody rewrites existing data. Feast's own offline push for file
sources reads and rewrites the whole dataset on every call (quadratic), which
is why the stream job appends files here instead of ``push(to=OFFLINE)``.

Rows are idempotent: a row is a pure function of (entity, state_ts), so a file
written twice (a replay after a restart) only duplicates identical rows, which
the point-in-time join collapses.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from fraudlens.errors import FeatureStoreError
from fraudlens.features.state import (
    CARD_COLUMNS,
    CARD_KEY,
    STATE_TS,
    TERMINAL_COLUMNS,
    TERMINAL_KEY,
)
from fraudlens.features.transaction_rows import TXN_VIEW, transaction_schema

View = Literal["card_state", "terminal_state"]
VIEWS: tuple[View, ...] = ("card_state", "terminal_state")
Folder = Literal["card_state", "terminal_state", "transaction_features"]
_ARROW = {"bytes": pa.binary()}
TIMESTAMP = pa.timestamp("us", tz="UTC")


def view_key(view: View) -> str:
    """The entity join key of a state view."""
    return CARD_KEY if view == "card_state" else TERMINAL_KEY


def _columns(view: View) -> tuple[tuple[str, str, str], ...]:
    return CARD_COLUMNS if view == "card_state" else TERMINAL_COLUMNS


def state_schema(view: View) -> pa.Schema:
    """Arrow schema of a state view's rows (key, state_ts, the state blob)."""
    fields = [pa.field(view_key(view), pa.string()), pa.field(STATE_TS, TIMESTAMP)]
    fields += [pa.field(col, _ARROW[kind]) for col, _, kind in _columns(view)]
    return pa.schema(fields)


def rows_to_table(view: View, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Arrow table of state rows (``state_ts`` in microseconds since the epoch)."""
    schema = state_schema(view)
    arrays = []
    for field in schema:
        values = [row[field.name] for row in rows]
        if field.name == STATE_TS:
            arrays.append(pa.array(values, pa.int64()).cast(TIMESTAMP))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def ensure_offline_folders(root: Path) -> None:
    """Create the view folders, each with an empty file that carries the schema.

    Raises:
        FeatureStoreError: a folder was made by a release with another state
            format (its schema file differs): its rows cannot be read.
    """
    schemas = {view: state_schema(view) for view in VIEWS} | {TXN_VIEW: transaction_schema()}
    for view, schema in schemas.items():
        folder = root / view
        folder.mkdir(parents=True, exist_ok=True)
        empty = folder / "empty-schema.parquet"
        if not empty.exists():
            pq.write_table(schema.empty_table(), empty)
        elif view in VIEWS and not pq.read_schema(empty).equals(schema):
            raise FeatureStoreError(
                f"{folder} holds {view} rows of an older state format (list columns, "
                "before the state blobs): move that folder away, then run `fraudlens "
                "features backfill` and `fraudlens features materialize`"
            )


def write_table(root: Path, view: Folder, table: pa.Table, prefix: str) -> Path | None:
    """Add one Parquet file of rows to a view's folder; None when empty."""
    if table.num_rows == 0:
        return None
    folder = root / view
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{prefix}-{uuid.uuid4().hex}.parquet"
    tmp = folder / f".{name}.tmp"
    pq.write_table(table, tmp)
    final = folder / name
    tmp.rename(final)
    return final


def write_rows(root: Path, view: View, rows: Sequence[dict[str, Any]], prefix: str) -> Path | None:
    """Add state rows (dicts from ``fraudlens.features.fold``) as one Parquet file."""
    return write_table(root, view, rows_to_table(view, rows), prefix)


def read_view(root: Path, view: View) -> pa.Table:
    """Every row of a view (all files), for checks and tests."""
    files = sorted((root / view).glob("*.parquet"))
    tables = [pq.read_table(f, schema=state_schema(view)) for f in files]
    return pa.concat_tables(tables) if tables else state_schema(view).empty_table()


def read_transaction_rows(root: Path) -> pa.Table:
    """Every per-transaction feature row (all files), for checks and tests."""
    schema = transaction_schema()
    files = sorted((root / TXN_VIEW).glob("*.parquet"))
    tables = [pq.read_table(f, schema=schema) for f in files]
    return pa.concat_tables(tables) if tables else schema.empty_table()
