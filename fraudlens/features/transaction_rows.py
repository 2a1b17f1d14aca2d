"""Per-transaction feature rows: the offline store's training table.

One row per transaction: ``transaction_id``, ``txn_ts`` (the transaction's
event time) and every feature of ``fraudlens.features.registry`` as a scalar
column. A row holds exactly what the online path computes when it scores that
transaction: the ODFV code (``fraudlens.features.odfv``, hence ``compute`` /
``definitions``) applied to the entity's state row stamped with the
transaction's own time and to the transaction as the request. That state row
is the one a point-in-time join at the transaction's time picks (the fold
emits a row at every event time, after all events of that microsecond); the
feature functions only read events strictly before the request, and fraud
labels that arrived strictly before it.

Both runners produce these rows while they fold: the Spark backfill per card
and per terminal group (``fraudlens.features.batch``), the stream job per
micro-batch (``fraudlens.features.sink``). Feast reads them through the
``transaction_features`` view (``feature_repo/feature_views.py``), so a
training frame is a plain as-of join on ``transaction_id``, no list columns and
no on-demand views.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa

from fraudlens.features.delay import rows_metadata
from fraudlens.features.odfv import card_feature_columns, terminal_feature_columns
from fraudlens.features.registry import ALL_FEATURES, CARD_FEATURES, TERMINAL_FEATURES
from fraudlens.features.state import (
    CARD_COLUMNS,
    DEFAULT_MATURED_DELAY_DAYS,
    TERMINAL_COLUMNS,
    TxnEvent,
)

TXN_VIEW: Literal["transaction_features"] = "transaction_features"
TXN_KEY = "transaction_id"
TXN_TS = "txn_ts"
TIMESTAMP = pa.timestamp("us", tz="UTC")
_ARROW = {"int64": pa.int64(), "float64": pa.float64()}
CARD_NAMES = tuple(spec.name for spec in CARD_FEATURES)
TERMINAL_NAMES = tuple(spec.name for spec in TERMINAL_FEATURES)


def transaction_schema(matured_delay_days: int | None = None) -> pa.Schema:
    """Arrow schema of the rows: key, event time, one scalar column per feature.

    With ``matured_delay_days``, the schema's metadata records it: every file
    of rows says which delay its matured features used (``delay.check_rows_delay``).
    """
    fields = [pa.field(TXN_KEY, pa.string()), pa.field(TXN_TS, TIMESTAMP)]
    fields += [pa.field(spec.name, _ARROW[spec.dtype]) for spec in ALL_FEATURES]
    meta = None if matured_delay_days is None else rows_metadata(matured_delay_days)
    return pa.schema(fields, metadata=meta)


def _request_columns(events: Sequence[TxnEvent]) -> dict[str, list[Any]]:
    # Coordinates are already ``state.coord``-normalised in a TxnEvent.
    return {
        "req_time_us": [e.time_us for e in events],
        "req_amount": [e.amount for e in events],
        "req_terminal_id": [e.terminal_id for e in events],
        "req_merchant_id": [e.merchant_id for e in events],
        "req_country": [e.country for e in events],
        "req_lat": [e.latitude for e in events],
        "req_lon": [e.longitude for e in events],
        "req_device": [e.device for e in events],
        "req_ip": [e.ip for e in events],
    }


def card_columns_at(
    events: Sequence[TxnEvent], states: Sequence[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """Card features of each transaction from its card's state row at its time.

    Args:
        events: transactions.
        states: for each transaction, its card's state row stamped with its time.
    """
    inputs: dict[str, list[Any]] = {col: [r[col] for r in states] for col, _, _ in CARD_COLUMNS}
    inputs.update(_request_columns(events))
    return card_feature_columns(inputs)


def terminal_columns_at(
    txns: Sequence[tuple[int, float]],
    states: Sequence[Mapping[str, Any]],
    *,
    matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS,
) -> dict[str, list[Any]]:
    """Terminal features of each (time, amount) transaction from the terminal's state row then.

    ``matured_delay_days``: ``features.matured_delay_days``, baked into the rows.
    """
    inputs: dict[str, list[Any]] = {col: [r[col] for r in states] for col, _, _ in TERMINAL_COLUMNS}
    inputs["req_time_us"] = [t for t, _ in txns]
    inputs["req_amount"] = [amount for _, amount in txns]
    return terminal_feature_columns(inputs, matured_delay_days=matured_delay_days)


def transaction_table(
    ids: Sequence[str],
    times_us: Sequence[int],
    columns: Mapping[str, Sequence[Any]],
    matured_delay_days: int | None = None,
) -> pa.Table:
    """The rows as an Arrow table with ``transaction_schema()`` (every feature required).

    Raises:
        KeyError: a feature column is missing.
    """
    schema = transaction_schema(matured_delay_days)
    arrays = [pa.array(ids, pa.string()), pa.array(times_us, pa.int64()).cast(TIMESTAMP)]
    arrays += [pa.array(columns[f.name], f.type) for f in list(schema)[2:]]
    return pa.Table.from_arrays(arrays, schema=schema)


def rows_from_states(
    events: Sequence[TxnEvent],
    card_states: Mapping[tuple[str, int], Mapping[str, Any]],
    terminal_states: Mapping[tuple[str, int], Mapping[str, Any]],
    *,
    matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS,
) -> pa.Table:
    """Feature rows of transactions from state rows keyed by (entity, time).

    The stream job's path: one micro-batch's folded rows hold, for every
    transaction applied, its card's and its terminal's state at its time.

    Raises:
        KeyError: a transaction's card or terminal has no state row at its time.
    """
    times = [e.time_us for e in events]
    cards = card_columns_at(events, [card_states[(e.card_token, e.time_us)] for e in events])
    terms = terminal_columns_at(
        [(e.time_us, e.amount) for e in events],
        [terminal_states[(e.terminal_id, e.time_us)] for e in events],
        matured_delay_days=matured_delay_days,
    )
    ids = [e.transaction_id for e in events]
    return transaction_table(ids, times, {**cards, **terms}, matured_delay_days)
