"""Training reads the records database's labels: an analyst's verdict, the latest, wins."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from fraudlens.importer import import_transactions, load_mapping
from fraudlens.records import LabelRecord, add_labels
from fraudlens.security import KeyRing, Tokenizer
from fraudlens.settings import RecordsSettings, Settings, TrainingSettings
from training.dataset import load_training_data

pytestmark = pytest.mark.integration

MAPPING = """
columns:
  transaction_id: id
  event_time: when
  card_reference: card
  customer_id: cust
  amount: amount
  is_fraud: fraud
defaults: {terminal_id: T1, merchant_id: M1, mcc: 5411, currency: EUR, channel: atm,
           entry_mode: chip, country: FR}
label_delay_days: 2
"""


def _import(data_dir: Path, rows: int = 40) -> None:
    frame = pd.DataFrame(
        {
            "id": [f"tx{i}" for i in range(rows)],
            "when": pd.date_range("2026-05-01", periods=rows, freq="6h", tz="UTC"),
            "card": [i % 5 for i in range(rows)],
            "cust": [i % 5 for i in range(rows)],
            "amount": [10.0 + i for i in range(rows)],
            "fraud": [i % 9 == 4 for i in range(rows)],  # tx4, tx13, tx22, tx31
        }
    )
    frame.to_parquet(data_dir / "in.parquet")
    (data_dir / "map.yaml").write_text(MAPPING)
    import_transactions(
        data_dir / "in.parquet",
        load_mapping(data_dir / "map.yaml"),
        data_dir / "import",
        Tokenizer("k1", {"k1": b"k" * 32}),
        keyring=KeyRing("e1", {"e1": b"e" * 32}),
    )


def _analyst(tx: str, fraud: bool, day: int) -> LabelRecord:
    when = datetime(2026, 6, day, tzinfo=UTC)
    return LabelRecord(tx, fraud, when, "analyst", author="ana1")


def test_analyst_labels_reach_the_training_set(
    tmp_path: Path, records_url: str, records_engine: Engine
) -> None:
    _import(tmp_path)
    with records_engine.begin() as conn:
        add_labels(conn, [_analyst("tx4", False, 2), _analyst("tx7", True, 3)])
    training = TrainingSettings(features_source="memory")

    def frame(records: RecordsSettings) -> pd.DataFrame:
        settings = Settings(data_dir=tmp_path, training=training, records=records)
        return load_training_data(settings, "2026-05-01", "2026-06-01").frame.set_index(
            "transaction_id"
        )

    alone = frame(RecordsSettings())  # no database configured: the history's labels only
    merged = frame(RecordsSettings(database_url=records_url))
    frauds = {"tx4", "tx13", "tx22", "tx31"}
    assert set(alone.index[alone["is_fraud"]]) == frauds
    assert set(merged.index[merged["is_fraud"]]) == frauds - {"tx4"} | {"tx7"}
    assert merged.loc["tx7", "label_time"] == pd.Timestamp("2026-06-03", tz="UTC")
    assert merged.loc["tx4", "label_time"] == pd.Timestamp("2026-06-02", tz="UTC")
    assert merged.loc["tx13", "label_time"] == alone.loc["tx13", "label_time"]
