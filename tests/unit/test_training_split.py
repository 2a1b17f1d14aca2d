from __future__ import annotations

import pandas as pd
import pytest

from fraudlens.errors import DataError
from fraudlens.settings import TrainingSettings
from training.split import split_bounds, time_split

DAY = pd.Timedelta(days=1)


def _frame(days: int = 40) -> pd.DataFrame:
    start = pd.Timestamp("2026-06-01", tz="UTC")
    times = [start + i * DAY / 4 for i in range(days * 4)]
    frame = pd.DataFrame(
        {"event_time": times, "transaction_id": [f"t{i}" for i in range(len(times))]}
    )
    frame["is_fraud"] = frame.index % 10 == 0
    # Labels arrive 3 days after the transaction, one fraud much later.
    frame["label_time"] = frame["event_time"].where(frame["is_fraud"]) + 3 * DAY
    return frame


def test_periods_are_ordered_with_a_label_delay_gap() -> None:
    cfg = TrainingSettings(label_delay_days=5, validation_days=7, test_days=7)
    bounds = split_bounds("2026-06-01", "2026-07-11", cfg)
    assert bounds.test_start == pd.Timestamp("2026-07-04", tz="UTC")
    assert bounds.valid_start == pd.Timestamp("2026-06-27", tz="UTC")
    assert bounds.train_end == bounds.valid_start - 5 * DAY
    parts = time_split(_frame(), bounds, cfg)
    assert parts.train["event_time"].max() < bounds.train_end
    assert parts.valid["event_time"].min() >= bounds.valid_start
    assert parts.test["event_time"].min() >= bounds.test_start
    assert parts.gap_rows == 5 * 4
    assert len(parts.train) + parts.gap_rows + len(parts.valid) + len(parts.test) == 160


@pytest.mark.parametrize("policy", ["unknown", "legit"])
def test_frauds_labelled_after_the_cutoff_are_not_taught_as_known(policy: str) -> None:
    cfg = TrainingSettings(label_delay_days=2, validation_days=7, test_days=7, late_labels=policy)
    frame = _frame()
    frame.loc[10, "label_time"] = frame.loc[10, "event_time"] + 60 * DAY  # a slow chargeback
    bounds = split_bounds("2026-06-01", "2026-07-11", cfg)
    # Frauds just before train_end (3 > 2 days of gap) and the slow one are late.
    late = frame["is_fraud"] & (frame["label_time"] > bounds.label_cutoff)
    late &= frame["event_time"] < bounds.train_end
    assert late.sum() > 0
    parts = time_split(frame, bounds, cfg)
    assert parts.late_label_rows == late.sum()
    late_ids = set(frame.loc[late, "transaction_id"])
    kept = parts.train[parts.train["transaction_id"].isin(late_ids)]
    if policy == "unknown":
        assert kept.empty
    else:
        assert len(kept) == len(late_ids) and not kept["is_fraud"].any()
    # Validation and test keep every label.
    assert parts.valid["is_fraud"].sum() == frame.loc[parts.valid.index, "is_fraud"].sum()


def test_a_range_too_short_for_the_periods_is_refused() -> None:
    with pytest.raises(DataError, match="too short"):
        split_bounds("2026-06-01", "2026-06-20", TrainingSettings())


def test_a_period_without_fraud_is_refused() -> None:
    frame = _frame()
    frame["is_fraud"] = False
    cfg = TrainingSettings(label_delay_days=2)
    with pytest.raises(DataError, match="no fraud"):
        time_split(frame, split_bounds("2026-06-01", "2026-07-11", cfg), cfg)
