"""Model search: Ray Tune trials on backtest folds, reproducible for a seed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fraudlens.model import mlflow_client
from fraudlens.settings import BacktestSettings, Settings
from training.dataset import TrainingData
from training.pipeline import train
from training.search import SPACE, search, search_folds

CUTOFF = pd.Timestamp("2026-07-06", tz="UTC")
END = pd.Timestamp("2026-06-29", tz="UTC")


def test_search_picks_the_same_configuration_for_the_same_seed(
    ray_cluster: None,
    training_data: TrainingData,
    training_settings: Settings,
    tmp_path: Path,
) -> None:
    # Few short trials: the test is about the search, not about good models.
    cfg = training_settings.training.model_copy(
        update={"search_trials": 3, "xgb_rounds": 30, "xgb_early_stopping": 10}
    )
    bcfg = BacktestSettings(folds=2, train_days=12, test_days=4, gap_days=3)
    folds = search_folds(training_data.frame, CUTOFF, END, cfg, bcfg)
    assert len(folds) == 2
    for frames in folds:  # nothing the run could not know at its cut-off
        seen = pd.concat([frames.train, frames.valid, frames.test])
        assert seen["event_time"].max() < END
        assert (seen.loc[seen["is_fraud"], "label_time"] <= CUTOFF).all()

    features = training_data.feature_names
    first = search(folds, features, cfg, tmp_path / "a")
    again = search(folds, features, cfg, tmp_path / "b")
    assert len(first.trials) == 3
    assert [{k: t[k] for k in SPACE} for t in first.trials] == [
        {k: t[k] for k in SPACE} for t in again.trials
    ]
    assert first.best == again.best
    figures = [t["average_precision"] for t in first.trials]
    assert first.best == {k: first.trials[figures.index(max(figures))][k] for k in SPACE}
    assert 0 < max(figures) <= 1

    # another seed draws another first trial (one trial is enough to show it)
    reseeded = cfg.model_copy(update={"seed": cfg.seed + 1, "search_trials": 1})
    other = search(folds, features, reseeded, tmp_path / "c")
    assert other.trials[0]["xgb_learning_rate"] != first.trials[0]["xgb_learning_rate"]
    chosen = first.apply(cfg)
    assert chosen.xgb_max_depth == first.best["xgb_max_depth"]
    assert chosen.imbalance_powers == [first.best["imbalance_power"]]


def test_search_refuses_folds_that_do_not_fit(
    training_data: TrainingData, training_settings: Settings
) -> None:
    from fraudlens.errors import DataError

    bcfg = BacktestSettings(folds=6, train_days=12, test_days=7, gap_days=3)
    with pytest.raises(DataError, match="lower --folds"):
        search_folds(training_data.frame, CUTOFF, END, training_settings.training, bcfg)


def test_train_with_search_trials_trains_with_the_chosen_values(
    ray_cluster: None,
    training_data: TrainingData,
    training_settings: Settings,
    tmp_path: Path,
) -> None:
    cfg = training_settings.training.model_copy(
        update={
            "search_trials": 2,
            "ray_workers": 1,  # one worker a trainer: less Ray overhead
            "mlp_epochs": 1,
            "xgb_rounds": 30,
            "xgb_early_stopping": 10,
            "imbalance_powers": [0.0, 1.0],
        }
    )
    settings = training_settings.model_copy(
        update={
            "data_dir": tmp_path,  # its own MLflow: the session's registry stays as it was
            "training": cfg,
            "backtest": BacktestSettings(folds=2, train_days=12, test_days=4, gap_days=3),
        }
    )
    start, end = training_data.start, training_data.end
    result = train(settings, start, end, data=training_data)
    assert "search" in result.seconds
    params = mlflow_client(settings).get_run(result.run_id).data.params
    # The search's learning rate is drawn from a continuous range, never the default 0.1.
    assert float(params["xgb_learning_rate"]) != cfg.xgb_learning_rate
    assert params["imbalance_powers"] in {"[0.0]", "[0.5]", "[1.0]"}
    assert result.model.metadata["choices"]["xgb_imbalance_power"] == float(
        params["imbalance_powers"][1:-1]
    )
