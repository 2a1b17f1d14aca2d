"""Per-row scores of ``fraudlens evaluate --scores``: the table, the files, the CLI options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fraudlens.cli import app
from fraudlens.errors import DataError
from fraudlens.model import Thresholds
from fraudlens.settings import TrainingSettings
from training.evaluate import Evaluation, evaluate
from training.scores import score_table, write_scores

runner = CliRunner()


def scored() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    frame = pd.DataFrame(
        {
            "transaction_id": ["t1", "t2", "t3"],
            "event_time": pd.to_datetime(
                ["2026-06-01 10:00", "2026-06-01 11:30", "2026-06-02 09:15"], utc=True
            ),
            "card_token": ["tok_k1_" + "a" * 32] * 3,
            "amount": [10.0, 0.0, 99.0],
            "is_fraud": [False, False, True],
            "fraud_scenario": [None, None, "card_testing"],
        }
    )
    scores = np.array([0.05, 0.6, 0.97])
    return frame, scores, np.array(["approve", "review", "decline"], dtype=object)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_scores_round_trip_in_both_formats(tmp_path: Path, suffix: str) -> None:
    frame, scores, decisions = scored()
    path = write_scores(score_table(frame, scores, decisions), tmp_path / "out" / f"s{suffix}")
    back = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    assert list(back.columns) == [
        "transaction_id",
        "event_time",
        "score",
        "decision",
        "is_fraud",
        "fraud_scenario",
    ]
    assert back["transaction_id"].tolist() == ["t1", "t2", "t3"]
    assert back["score"].tolist() == [0.05, 0.6, 0.97]
    assert back["decision"].tolist() == ["approve", "review", "decline"]
    assert back["is_fraud"].tolist() == [False, False, True]
    assert back["fraud_scenario"].iloc[2] == "card_testing"
    times = pd.to_datetime(back["event_time"], utc=True)
    assert times.tolist() == frame["event_time"].tolist()


def test_scores_without_scenarios_and_bad_suffix(tmp_path: Path) -> None:
    frame, scores, decisions = scored()
    table = score_table(frame.drop(columns="fraud_scenario"), scores, decisions)
    assert "fraud_scenario" not in table and "card_token" not in table
    with pytest.raises(DataError, match=r"use \.parquet or \.csv"):
        write_scores(table, tmp_path / "s.xlsx")


def test_evaluate_cli_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import training

    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    frame, scores, _ = scored()
    cfg = TrainingSettings()
    report = evaluate(frame, scores, Thresholds(review=0.5, decline=0.9), cfg)
    calls: list[dict[str, Any]] = []

    def fake_evaluate_model(*args: Any, **kwargs: Any) -> Evaluation:
        calls.append(kwargs)
        return report

    base = ["evaluate", "--from", "2026-06-01", "--to", "2026-06-03"]
    both = runner.invoke(app, [*base, "--alias", "champion", "--version", "3"])
    assert both.exit_code == 2 and "not both" in both.output

    bad = runner.invoke(app, [*base, "--scores", str(tmp_path / "s.txt")])
    assert bad.exit_code == 1 and "use .parquet or .csv" in " ".join(bad.output.split())

    monkeypatch.setattr(training, "evaluate_model", fake_evaluate_model)
    out = tmp_path / "s.csv"
    ok = runner.invoke(app, [*base, "--version", "3", "--scores", str(out)])
    assert ok.exit_code == 0, ok.output
    assert calls[-1] == {"alias": "champion", "version": "3", "scores_path": out}
    assert "| average_precision |" in ok.output
    assert runner.invoke(app, [*base, "--alias", "challenger"]).exit_code == 0
    assert calls[-1] == {"alias": "challenger", "version": None, "scores_path": None}
    alias_out = tmp_path / "s.parquet"
    ok = runner.invoke(app, [*base, "--version", "4", "--scores-out", str(alias_out)])
    assert ok.exit_code == 0, ok.output
    assert calls[-1] == {"alias": "champion", "version": "4", "scores_path": alias_out}
