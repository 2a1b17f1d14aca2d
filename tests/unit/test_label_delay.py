"""Label delays and the recommended matured-window delay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fraudlens.cli import app
from fraudlens.errors import DataError
from fraudlens.features.label_delay import label_delay_report, label_delays, recommend_delay


def test_recommendation_is_the_first_whole_day_with_the_coverage_arrived() -> None:
    # 10 labels: 4 within 2 days, the 5th at 6.7 days, the rest later.
    delays = np.array([0.5, 1.0, 1.5, 2.0, 6.7, 8.0, 9.0, 12.0, 20.0, 40.0])
    assert recommend_delay(delays) == 7  # half (5 of 10) arrived by day 7, not by day 6
    assert recommend_delay(delays, coverage=0.4) == 2  # 4 of 10 by day 2 exactly
    assert recommend_delay(delays, coverage=0.41) == 7
    assert recommend_delay(delays, coverage=0.9) == 20
    assert recommend_delay(delays, coverage=1.0) == 40
    assert recommend_delay(delays, coverage=1.0, max_days=30) == 30  # the setting's bound
    assert recommend_delay(np.array([0.01, 0.02])) == 1  # labels within the day: 1, not 0
    assert recommend_delay(np.array([0.0, 0.0])) == 0
    with pytest.raises(DataError, match="no fraud labels"):
        recommend_delay(np.array([]))


def test_a_known_exponential_distribution_gives_its_median_rounded_up() -> None:
    rng = np.random.default_rng(7)
    delays = rng.exponential(scale=10.0, size=20_000)  # median 10 ln 2 = 6.93 days
    assert recommend_delay(delays) == 7
    assert recommend_delay(delays, coverage=0.8) == 17  # 10 ln 5 = 16.09 days


def _history(folder: Path) -> None:
    t0 = pd.Timestamp("2026-06-01", tz="UTC")
    day = pd.Timedelta(days=1)
    pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c", "d", "e"],
            "event_time": [t0, t0, t0 + day, t0 + 2 * day, t0],
        }
    ).to_parquet(folder / "transactions.parquet")
    pd.DataFrame(
        {
            "transaction_id": ["a", "a", "b", "c", "d", "e", "zz"],
            "is_fraud": [True, True, True, True, False, True, True],
            "label_time": [
                t0 + 3 * day,  # a: 3 days
                t0 + 9 * day,  # a again: only the first fraud label counts
                t0 + 0.5 * day,  # b: half a day
                t0 + 11 * day,  # c: 10 days
                t0 + 3 * day,  # d: not a fraud label
                t0 - day,  # e: before its transaction: ignored
                t0,  # unknown transaction: ignored
            ],
        }
    ).to_parquet(folder / "labels.parquet")


def test_report_reads_the_history_and_counts_labels_as_the_features_do(tmp_path: Path) -> None:
    _history(tmp_path)
    txns = pd.read_parquet(tmp_path / "transactions.parquet")
    labels = pd.read_parquet(tmp_path / "labels.parquet")
    delays, ignored = label_delays(txns, labels, max_label_delay_days=120)
    assert sorted(delays.tolist()) == [0.5, 3.0, 10.0] and ignored == 3
    # With a 5-day maximum, c's 10-day label is ignored too.
    assert label_delays(txns, labels, max_label_delay_days=5)[1] == 4
    report = label_delay_report(tmp_path, 120)
    assert (report.fraud_labels, report.recommended_days) == (3, 3)
    assert report.quantiles_days["p50"] == 3.0
    assert report.arrived_within_days["1"] == pytest.approx(1 / 3, abs=1e-4)


def test_cli_prints_quantiles_and_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _history(tmp_path)
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["labels", "delay", "--source", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert '"recommended_days": 3' in result.output
    assert "FRAUDLENS_FEATURES__MATURED_DELAY_DAYS=3" in result.output
    assert '"configured_days": 7' in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["labels", "delay", "--source", str(empty)])
    assert result.exit_code == 1 and "cannot read the labels" in result.output
