"""``fraudlens backtest`` end to end: simulate -> backtest (real Ray Train, XGBoost, MLP)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import average_precision_score
from typer.testing import CliRunner

from fraudlens.cli import app

runner = CliRunner()

SMALL = {
    "FRAUDLENS_TRAINING__FEATURES_SOURCE": "memory",
    "FRAUDLENS_TRAINING__IMBALANCE_POWERS": "[1.0]",
    "FRAUDLENS_TRAINING__XGB_ROUNDS": "60",
    "FRAUDLENS_TRAINING__XGB_EARLY_STOPPING": "10",
    "FRAUDLENS_TRAINING__MLP_EPOCHS": "1",
    "FRAUDLENS_TRAINING__VALIDATION_DAYS": "4",
    "FRAUDLENS_TRAINING__CARDS_PER_DAY": "10",
    "FRAUDLENS_TRAINING__RAY_WORKERS": "1",  # one worker a trainer: less Ray overhead
}


def test_backtest_trains_each_fold_and_reports_its_test_block(
    ray_cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)
    args = ["--customers", "300", "--days", "30", "--fraud-rate", "0.02", "--seed", "3"]
    sim = runner.invoke(app, ["simulate", *args])
    assert sim.exit_code == 0, sim.output
    flags = ["--folds", "2", "--train-days", "12", "--test-days", "5", "--gap-days", "3"]
    result = runner.invoke(app, ["backtest", *flags])
    assert result.exit_code == 0, result.output
    assert "| mean |" in result.output and "per scenario" in result.output

    report = json.loads((tmp_path / "backtest" / "backtest.json").read_text())
    png = (tmp_path / "backtest" / "backtest.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert report["plan"] | {"folds": 2, "gap_days": 3} == report["plan"]
    first, second = report["folds"]
    assert first["end"] == second["cutoff"]
    tx = pd.read_parquet(tmp_path / "sim" / "transactions.parquet")
    assert second["end"] == (tx["event_time"].max().floor("D") + pd.Timedelta(days=1)).isoformat()
    for fold in report["folds"]:
        test = tx[(tx["event_time"] >= fold["cutoff"]) & (tx["event_time"] < fold["end"])]
        m = fold["metrics"]
        assert m["rows"] == len(test) and m["frauds"] == test["is_fraud"].sum()
        assert m["fraud_amount"] == pytest.approx(test.loc[test["is_fraud"], "amount"].sum())
        assert 0 <= m["fraud_amount_caught"] <= m["fraud_amount"]
        assert m["roc_auc"] > 0.6 and 0 < m["average_precision"] <= 1
        assert len(fold["card_precision_per_day"]) == 5
        assert sum(row["frauds"] for row in fold["scenarios"]) == m["frauds"]
    # every test row's score, once, in its fold: the figures above come from them
    scores = pd.read_parquet(tmp_path / "backtest" / "scores.parquet")
    assert scores["transaction_id"].is_unique
    for fold in report["folds"]:
        ids = tx.loc[(tx["event_time"] >= fold["cutoff"]) & (tx["event_time"] < fold["end"])]
        mine = scores[scores["fold"] == fold["fold"]]
        assert set(mine["transaction_id"]) == set(ids["transaction_id"])
        assert mine["score"].between(0, 1).all()
        labels = ids.set_index("transaction_id").loc[mine["transaction_id"], "is_fraud"]
        ap = average_precision_score(labels.to_numpy(), mine["score"].to_numpy())
        assert ap == pytest.approx(fold["metrics"]["average_precision"])
    total = report["overall"]
    assert total["fraud_amount"] == pytest.approx(
        sum(f["metrics"]["fraud_amount"] for f in report["folds"])
    )
    assert {row["scenario"] for row in total["scenarios"]} >= {"stolen_card"}
