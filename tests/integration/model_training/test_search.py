"""Model search: Ray Tune trials on backtest folds, reproducible for a seed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fraudlens.settings import BacktestSettings, Settings
from training.dataset import TrainingData
from training.search import SPACE, search, search_folds

CUTOFF = pd.Timestamp("2026-07-06", tz="UTC")
END = pd.Timestamp("2026-06-29", tz="UTC")


def test_search_picks_the_same_configuration_for_the_same_seed(
    ray_cluster: None,
    training_data: TrainingData,
    training_settings: Settings,
    tmp_path: Path,
) -> None:
    cfg = training_settings.training.model_copy(update={"search_trials": 3})
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

    other = search(folds, features, cfg.model_copy(update={"seed": cfg.seed + 1}), tmp_path / "c")
    assert [t["xgb_learning_rate"] for t in other.trials] != [
        t["xgb_learning_rate"] for t in first.trials
    ]
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
