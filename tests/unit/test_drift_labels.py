"""Label-based performance on matured labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from drift.label_metrics import label_performance, matured_period

AS_OF = datetime(2026, 7, 20, tzinfo=UTC)


def _decisions() -> pd.DataFrame:
    base = AS_OF - timedelta(days=10)  # matured (maturity 7 days)
    rows = []
    for i in range(100):
        rows.append(
            {
                "transaction_id": f"t{i}",
                "event_time": base + timedelta(minutes=i),
                "score": 1.0 - i / 100.0,  # t0 scores highest
                "model_version": "3",
            }
        )
    rows.append(  # too recent: not matured
        {"transaction_id": "fresh", "event_time": AS_OF, "score": 0.99, "model_version": "3"}
    )
    rows.append(  # another model version
        {"transaction_id": "old", "event_time": base, "score": 0.99, "model_version": "2"}
    )
    return pd.DataFrame(rows)


def _labels(ids: list[str], when: datetime) -> pd.DataFrame:
    return pd.DataFrame({"transaction_id": ids, "is_fraud": True, "label_time": when})


def test_perfect_ranking_and_budget() -> None:
    labels = _labels(["t0", "t1"], AS_OF - timedelta(days=1))
    perf = label_performance(
        _decisions(), labels, AS_OF, maturity_days=7, days=7, alert_budget=0.02, min_frauds=2
    )
    assert perf.model_version == "3" and perf.rows == 100 and perf.frauds == 2
    assert perf.average_precision == pytest.approx(1.0)
    assert perf.precision_at_budget == pytest.approx(1.0)  # top 2 of 100
    assert perf.recall_at_budget == pytest.approx(1.0)
    assert perf.sufficient


def test_labels_after_as_of_are_unknown_and_bad_ranking_shows() -> None:
    labels = pd.concat(
        [
            _labels(["t98", "t99"], AS_OF - timedelta(days=1)),
            _labels(["t0"], AS_OF + timedelta(days=1)),  # not known yet
        ]
    )
    perf = label_performance(
        _decisions(), labels, AS_OF, maturity_days=7, days=7, alert_budget=0.02, min_frauds=5
    )
    assert perf.frauds == 2 and not perf.sufficient
    assert perf.average_precision < 0.05 and perf.precision_at_budget == 0.0


def test_no_frauds_gives_nan() -> None:
    perf = label_performance(
        _decisions(),
        _labels([], AS_OF),
        AS_OF,
        maturity_days=7,
        days=7,
        alert_budget=0.01,
        min_frauds=1,
    )
    assert perf.frauds == 0 and perf.average_precision != perf.average_precision


def test_matured_period() -> None:
    start, end = matured_period(AS_OF, 7, 3)
    assert end == AS_OF - timedelta(days=7) and start == end - timedelta(days=3)
