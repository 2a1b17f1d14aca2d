"""The latest label of a transaction wins for training; its time is when its verdict became known."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fraudlens.settings import Settings, TrainingSettings
from training.dataset import read_history
from training.labels import latest_verdicts, records_labels
from training.split import known_labels


def t(day: int) -> pd.Timestamp:
    return pd.Timestamp("2026-06-01", tz="UTC") + pd.Timedelta(days=day)


def labels(*rows: tuple[str, bool, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": [r[0] for r in rows],
            "is_fraud": [r[1] for r in rows],
            "label_time": [t(r[2]) for r in rows],
        }
    )


def verdicts(frame: pd.DataFrame) -> dict[str, tuple[bool, pd.Timestamp]]:
    out = latest_verdicts(frame)
    return {r.transaction_id: (bool(r.is_fraud), r.label_time) for r in out.itertuples()}


def test_the_newest_label_wins_and_dates_its_verdict() -> None:
    frame = labels(
        ("corrected", True, 1),
        ("corrected", False, 5),  # an analyst's "legitimate" after a chargeback
        ("confirmed", True, 2),
        ("confirmed", True, 9),  # a second fraud label: the fraud was known on day 2
        ("flipped", True, 8),  # given out of order: day 8 is newer than day 3
        ("flipped", False, 3),
        ("back", True, 1),
        ("back", False, 2),
        ("back", True, 4),  # fraud again: known from day 4
    )
    assert verdicts(frame) == {
        "corrected": (False, t(5)),
        "confirmed": (True, t(2)),
        "flipped": (True, t(8)),
        "back": (True, t(4)),
    }


def test_at_equal_times_the_later_row_wins() -> None:
    assert verdicts(labels(("x", True, 3), ("x", False, 3))) == {"x": (False, t(3))}
    assert verdicts(labels(("x", False, 3), ("x", True, 3))) == {"x": (True, t(3))}


def write_history(folder: Path) -> None:
    pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c", "d"],
            "event_time": [t(0), t(0), t(0), t(0)],
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    ).to_parquet(folder / "transactions.parquet")
    pd.DataFrame(
        {
            "transaction_id": ["a", "b", "b"],
            "is_fraud": [True, True, True],
            "label_time": [t(10), t(12), t(11)],
            "fraud_scenario": ["stolen_card", "skimming", "skimming"],
        }
    ).to_parquet(folder / "labels.parquet")


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("transaction_id")


def test_records_labels_merge_over_the_history(tmp_path: Path) -> None:
    write_history(tmp_path)
    alone = by_id(read_history(tmp_path, None, t(1)))
    records = labels(
        ("a", False, 20),  # an analyst clears a chargeback
        ("c", True, 3),  # an analyst confirms a fraud the history does not know
        ("d", False, 4),  # an analyst clears a transaction
    )
    merged = by_id(read_history(tmp_path, None, t(1), records))
    assert alone["is_fraud"].to_dict() == {"a": True, "b": True, "c": False, "d": False}
    assert merged["is_fraud"].to_dict() == {"a": False, "b": True, "c": True, "d": False}
    assert merged.loc["b", "label_time"] == alone.loc["b", "label_time"] == t(11)
    assert merged.loc["c", "label_time"] == t(3)
    assert merged.loc["a", "label_time"] == t(20)
    assert merged.loc["b", "fraud_scenario"] == "skimming"
    assert merged["fraud_scenario"].drop("b").isna().all()
    # The analyst's fraud is known only once its label arrived.
    before, late = known_labels(merged.reset_index(), t(2), TrainingSettings(late_labels="unknown"))
    assert late == 2 and set(before["transaction_id"]) == {"a", "d"}


def test_no_records_labels_give_the_history_labels(tmp_path: Path) -> None:
    write_history(tmp_path)
    alone = read_history(tmp_path, None, t(1))
    merged = read_history(tmp_path, None, t(1), labels())
    pd.testing.assert_frame_equal(
        merged[["transaction_id", "is_fraud", "label_time", "fraud_scenario"]],
        alone[["transaction_id", "is_fraud", "label_time", "fraud_scenario"]],
        check_dtype=False,
    )


def test_without_a_records_database_training_starts_none(tmp_path: Path) -> None:
    assert records_labels(Settings(data_dir=tmp_path)) is None  # and no embedded server
    assert not (tmp_path / "postgres").exists()
