"""Column-wise glue between Feast on-demand feature views and the definitions.

Feast calls the ODFVs in ``feature_repo/on_demand.py`` (mode="python") with a
dict of columns, both online (one row per entity row) and in a historical
retrieval (one row per entity-dataframe row). Both paths end here, so the
feature code that runs is the same: batches of at least ``VECTOR_MIN_ROWS``
rows go through ``compute`` (numpy over the batch, identical values), smaller
ones row by row through ``definitions``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from fraudlens.features.compute import card_matrix
from fraudlens.features.compute_terminal import terminal_matrix
from fraudlens.features.definitions import card_features, terminal_features
from fraudlens.features.online_ids import device_code, ip_code
from fraudlens.features.registry import CARD_FEATURES, TERMINAL_FEATURES
from fraudlens.features.state import (
    CARD_BLOB,
    CARD_COLUMNS,
    DEFAULT_MATURED_DELAY_DAYS,
    TERMINAL_BLOB,
    TERMINAL_COLUMNS,
    US_PER_SECOND,
    TxnEvent,
    coord,
)
from fraudlens.features.state_codec import card_from_row, terminal_from_row

# What Feast passes for a Bytes feature when it runs a UDF on sample inputs
# to infer its output types (``feast apply``); never a state blob (those start
# with a magic), so the glue reads it as "no state". Any other value that is
# not a readable blob is refused (``state_codec``).
FEAST_SAMPLE_BYTES = b"hello world"

# From this many rows on, numpy over the batch beats a Python loop per row
# (measured crossover: ~16 rows for card features, ~10 for terminal ones).
VECTOR_MIN_ROWS = 16

# Request fields the ODFVs read (RequestSource schema), with their types. The
# device and IP are ``online_ids`` codes: Feast never sees the values.
REQUEST_FIELDS: tuple[tuple[str, str], ...] = (
    ("req_time_us", "int64"),
    ("req_amount", "float64"),
    ("req_terminal_id", "string"),
    ("req_merchant_id", "string"),
    ("req_country", "string"),
    ("req_lat", "float64"),
    ("req_lon", "float64"),
    ("req_device", "int64"),
    ("req_ip", "int64"),
)


_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)


def time_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float)."""
    zone = value.tzinfo
    delta = value - (_EPOCH_UTC if zone is UTC else datetime(1970, 1, 1, tzinfo=zone))
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def request_fields(txn: Mapping[str, Any]) -> dict[str, Any]:
    """The request columns for one transaction (a dict with schema field names).

    ``event_time`` may be a datetime or already microseconds (int).
    """
    when = txn["event_time"]
    return {
        "req_time_us": when if isinstance(when, int) else time_us(when),
        "req_amount": float(txn["amount"]),
        "req_terminal_id": str(txn["terminal_id"]),
        "req_merchant_id": str(txn["merchant_id"]),
        "req_country": str(txn["country"]),
        "req_lat": coord(txn.get("latitude")),
        "req_lon": coord(txn.get("longitude")),
        "req_device": device_code(txn.get("device_id")),
        "req_ip": ip_code(txn.get("ip_address")),
    }


# The schema fields ``request_fields`` reads, in ``REQUEST_FIELDS`` order.
REQUEST_SOURCE = (
    "event_time", "amount", "terminal_id", "merchant_id", "country", "latitude", "longitude",
    "device_id", "ip_address",
)  # fmt: skip
_REQUEST_ATTRS = attrgetter(*REQUEST_SOURCE)


def request_columns(txns: Sequence[Any]) -> dict[str, list[Any]]:
    """``request_fields`` of many transactions, as columns (the same values).

    ``txns`` are objects with the schema's attributes (``schema.Transaction``):
    read with one attribute getter per row, without a dict per row.
    """
    if not txns:
        return {name: [] for name, _ in REQUEST_FIELDS}
    when, amount, terminal, merchant, country, lat, lon, device, ip = zip(
        *map(_REQUEST_ATTRS, txns), strict=True
    )
    return {
        "req_time_us": [w if isinstance(w, int) else time_us(w) for w in when],
        "req_amount": [float(v) for v in amount],
        "req_terminal_id": [str(v) for v in terminal],
        "req_merchant_id": [str(v) for v in merchant],
        "req_country": [str(v) for v in country],
        "req_lat": [coord(v) for v in lat],
        "req_lon": [coord(v) for v in lon],
        "req_device": [device_code(v) for v in device],
        "req_ip": [ip_code(v) for v in ip],
    }


def _request(inputs: Mapping[str, Sequence[Any]], i: int) -> TxnEvent:
    return TxnEvent(
        transaction_id="",
        time_us=int(inputs["req_time_us"][i]),
        card_token="",
        terminal_id=str(inputs["req_terminal_id"][i]),
        merchant_id=str(inputs["req_merchant_id"][i]),
        country=str(inputs["req_country"][i]),
        amount=float(inputs["req_amount"][i]),
        latitude=coord(inputs["req_lat"][i]),
        longitude=coord(inputs["req_lon"][i]),
        device=int(inputs["req_device"][i]),
        ip=int(inputs["req_ip"][i]),
    )


def _rows(inputs: Mapping[str, Sequence[Any]]) -> int:
    return len(inputs["req_time_us"])


def _without_sample(inputs: Mapping[str, Sequence[Any]], col: str) -> Mapping[str, Sequence[Any]]:
    """``inputs`` with Feast's type-inference sample in ``col`` read as no state."""
    values = inputs.get(col)
    if values is None or FEAST_SAMPLE_BYTES not in values:
        return inputs
    return {**inputs, col: [None if v == FEAST_SAMPLE_BYTES else v for v in values]}


def card_feature_columns(
    inputs: Mapping[str, Sequence[Any]],
    vector_min_rows: int = VECTOR_MIN_ROWS,
    *,
    arrays: bool = False,
) -> dict[str, Any]:
    """Card features for every row of ``inputs`` (card state + request columns).

    Batches of ``vector_min_rows`` rows or more are computed with numpy; with
    ``arrays`` their columns stay numpy arrays (serving), else they are lists
    (what Feast's python-mode ODFVs return). Smaller batches give lists.
    """
    names = [spec.name for spec in CARD_FEATURES]
    inputs = _without_sample(inputs, CARD_BLOB)
    if _rows(inputs) >= vector_min_rows:
        columns = card_matrix(inputs)
        return {name: columns[name] if arrays else columns[name].tolist() for name in names}
    out: dict[str, list[Any]] = {name: [] for name in names}
    state_cols = [col for col, _, _ in CARD_COLUMNS]
    for i in range(_rows(inputs)):
        row = {col: inputs[col][i] if col in inputs else None for col in state_cols}
        values = card_features(card_from_row(row), _request(inputs, i))
        for name in names:
            out[name].append(values[name])
    return out


def terminal_feature_columns(
    inputs: Mapping[str, Sequence[Any]],
    vector_min_rows: int = VECTOR_MIN_ROWS,
    *,
    arrays: bool = False,
    matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS,
) -> dict[str, Any]:
    """Terminal features for every row of ``inputs`` (terminal state + request time).

    Batches of ``vector_min_rows`` rows or more are computed with numpy (see
    ``card_feature_columns`` for ``arrays``). ``matured_delay_days`` is the
    configured ``features.matured_delay_days``: every caller passes it (the
    ODFVs bake it in when the repo is applied, ``feature_repo/on_demand.py``).
    """
    names = [spec.name for spec in TERMINAL_FEATURES]
    inputs = _without_sample(inputs, TERMINAL_BLOB)
    if _rows(inputs) >= vector_min_rows:
        columns = terminal_matrix(inputs, matured_delay_days=matured_delay_days)
        return {name: columns[name] if arrays else columns[name].tolist() for name in names}
    out: dict[str, list[Any]] = {name: [] for name in names}
    state_cols = [col for col, _, _ in TERMINAL_COLUMNS]
    for i in range(_rows(inputs)):
        row = {col: inputs[col][i] if col in inputs else None for col in state_cols}
        amount = float(inputs["req_amount"][i])
        request = TxnEvent("", int(inputs["req_time_us"][i]), "", "", "", "", amount)
        values = terminal_features(
            terminal_from_row(row), request, matured_delay_days=matured_delay_days
        )
        for name in names:
            out[name].append(values[name])
    return out
