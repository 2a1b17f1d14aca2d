"""Per-transaction feature rows: their Arrow schema and values from folded state rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudlens.features.fold import LabelEvent, StateFolder
from fraudlens.features.offline import ensure_offline_folders
from fraudlens.features.registry import ALL_FEATURES, FEATURE_NAMES
from fraudlens.features.state import (
    CARD_KEY,
    STATE_TS,
    TERMINAL_KEY,
    US_PER_DAY,
    US_PER_SECOND,
    TxnEvent,
)
from fraudlens.features.transaction_rows import (
    TXN_VIEW,
    rows_from_states,
    transaction_schema,
    transaction_table,
)
from training.local_features import compute_features


def test_row_schema_is_key_event_time_then_every_registry_feature_as_a_scalar() -> None:
    schema = transaction_schema()
    assert schema.names == ["transaction_id", "txn_ts", *FEATURE_NAMES]
    assert schema.field("transaction_id").type == pa.string()
    assert schema.field("txn_ts").type == pa.timestamp("us", tz="UTC")
    for spec in ALL_FEATURES:
        assert (
            schema.field(spec.name).type
            == {"int64": pa.int64(), "float64": pa.float64()}[spec.dtype]
        )


def test_offline_folders_carry_the_row_schema_and_tables_need_every_feature(
    tmp_path: Path,
) -> None:
    ensure_offline_folders(tmp_path)
    empty = pq.read_schema(tmp_path / TXN_VIEW / "empty-schema.parquet")
    assert empty.remove_metadata() == transaction_schema()
    columns = {name: [0] for name in FEATURE_NAMES[1:]}
    with pytest.raises(KeyError, match=FEATURE_NAMES[0]):
        transaction_table(["t1"], [1], columns)


T0 = 20_000 * US_PER_DAY  # a UTC midnight


def _txn(i: int, us: int, card: str, term: str, amount: float, lat: float = 48.0) -> TxnEvent:
    return TxnEvent(f"t{i}", us, card, term, f"m{i % 3}", "FR", amount, lat, 2.0)


def test_rows_from_folded_states_equal_the_in_memory_oracle() -> None:
    hour = 3600 * US_PER_SECOND
    events = [
        _txn(0, T0 + hour, "c1", "k1", 10.0),
        _txn(1, T0 + 2 * hour, "c1", "k1", 25.5),
        _txn(2, T0 + 2 * hour, "c1", "k2", 7.25),  # same microsecond, same card
        _txn(3, T0 + US_PER_DAY + hour, "c1", "k1", 99.0),
        _txn(4, T0 + US_PER_DAY + 2 * hour, "c2", "k1", 3.0),  # a card with no history
        _txn(5, T0 + 2 * US_PER_DAY, "c1", "k3", 40.0, lat=999.0),  # a new terminal, no place
        _txn(6, T0 + 3 * US_PER_DAY, "c2", "k1", 12.0),
    ]
    label = LabelEvent("t1", T0 + US_PER_DAY + 90 * 60 * US_PER_SECOND, True)  # arrives in day 1
    result = StateFolder(120 * US_PER_DAY).apply([*events, label])
    cards = {(r[CARD_KEY], r[STATE_TS]): r for r in result.card_rows}
    terminals = {(r[TERMINAL_KEY], r[STATE_TS]): r for r in result.terminal_rows}
    table = rows_from_states(result.transactions, cards, terminals)
    assert table.schema == transaction_schema()
    rows = table.to_pandas().set_index("transaction_id").loc[[e.transaction_id for e in events]]

    frame = pd.DataFrame(
        {
            "transaction_id": [e.transaction_id for e in events],
            "event_time": pd.to_datetime([e.time_us for e in events], unit="us", utc=True),
            "card_token": [e.card_token for e in events],
            "terminal_id": [e.terminal_id for e in events],
            "merchant_id": [e.merchant_id for e in events],
            "country": [e.country for e in events],
            "amount": [e.amount for e in events],
            "latitude": [None if e.latitude == 999.0 else e.latitude for e in events],
            "longitude": [e.longitude for e in events],
            "is_fraud": [e.transaction_id == "t1" for e in events],
            "label_time": [
                pd.Timestamp(label.time_us, unit="us", tz="UTC")
                if e.transaction_id == "t1"
                else None
                for e in events
            ],
        }
    )
    expected = compute_features(frame)
    assert rows[list(FEATURE_NAMES)].reset_index(drop=True).equals(expected)
    # t1's fraud label (terminal k1, day 0) arrives between t3 and t4.
    assert rows.loc["t3", "term_fraud_count_1d"] == 0 and rows.loc["t4", "term_fraud_count_1d"] == 1
