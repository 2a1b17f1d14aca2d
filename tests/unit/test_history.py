"""Where training finds its history after ``simulate`` or ``import``, and the label delay."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import pytest

from fraudlens.errors import DataError
from fraudlens.history import find_history
from fraudlens.importer import import_transactions, load_mapping
from fraudlens.security import KeyRing, Tokenizer
from fraudlens.settings import Settings, TrainingSettings
from training.dataset import load_training_data, read_history
from training.split import with_data_label_delay

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
label_delay_days: 20.5
"""


def imported(data_dir: Path, rows: int = 40) -> Path:
    """Import a small Parquet file (integer ids) into DATA_DIR/import, as the CLI does."""
    frame = pd.DataFrame(
        {
            "id": range(rows),
            "when": pd.date_range("2026-05-01", periods=rows, freq="6h", tz="UTC"),
            "card": [i % 5 for i in range(rows)],
            "cust": [i % 5 for i in range(rows)],
            "amount": [0.0 if i % 7 == 0 else 10.0 + i for i in range(rows)],
            "fraud": [i % 9 == 4 for i in range(rows)],
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
    return data_dir / "import"


def fake_sim(data_dir: Path) -> Path:
    folder = data_dir / "sim"
    folder.mkdir()
    for name in ("transactions.parquet", "labels.parquet"):
        pd.DataFrame({"x": [1]}).to_parquet(folder / name)
    return folder


def test_training_finds_an_import_without_any_setting(tmp_path: Path) -> None:
    folder = imported(tmp_path)
    history = find_history(tmp_path)
    assert (history.folder, history.origin, history.label_delay_days) == (folder, "import", 20.5)
    rows = read_history(history.folder, None, pd.Timestamp("2026-06-01", tz="UTC"))
    assert len(rows) == 40 and int(rows["is_fraud"].sum()) == 4


def test_memory_training_data_reads_the_import(tmp_path: Path) -> None:
    imported(tmp_path)
    training = TrainingSettings(features_source="memory")
    data = load_training_data(
        Settings(data_dir=tmp_path, training=training), "2026-05-01", "2026-06-01"
    )
    assert len(data.frame) == 40 and data.source == "memory"


def test_newer_of_sim_and_import_wins_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = fake_sim(tmp_path)
    folder = imported(tmp_path)
    os.utime(sim / "transactions.parquet", ns=(1, 1))  # the simulation is older
    with caplog.at_level(logging.INFO, logger="fraudlens.history"):
        assert find_history(tmp_path).folder == folder
    assert "using" in caplog.text and "FRAUDLENS_TRAINING__HISTORY_DIR" in caplog.text
    os.utime(folder / "transactions.parquet", ns=(0, 0))
    assert find_history(tmp_path).folder == sim
    assert find_history(tmp_path, configured=folder).origin == "setting"


def test_no_history_names_every_place_and_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        find_history(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "sim") in message and str(tmp_path / "import") in message
    assert "FRAUDLENS_TRAINING__HISTORY_DIR" in message
    with pytest.raises(DataError, match="FRAUDLENS_TRAINING__HISTORY_DIR"):
        find_history(tmp_path, configured=tmp_path / "mine")
    with pytest.raises(DataError, match=str(tmp_path / "import")):
        load_training_data(Settings(data_dir=tmp_path), "2026-05-01", "2026-06-01")


def test_label_delay_follows_the_import_unless_set(caplog: pytest.LogCaptureFixture) -> None:
    unset = TrainingSettings()
    assert with_data_label_delay(unset, None) is unset
    assert with_data_label_delay(unset, 20.5).label_delay_days == 21
    assert with_data_label_delay(TrainingSettings(test_days=3), 30).label_delay_days == 30
    mine = TrainingSettings(label_delay_days=14)
    with caplog.at_level(logging.WARNING, logger="training.split"):
        assert with_data_label_delay(mine, 30).label_delay_days == 14
    assert "is 14 (your setting)" in caplog.text and "take 30" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="training.split"):
        with_data_label_delay(TrainingSettings(label_delay_days=30), 30)
    assert not caplog.text
