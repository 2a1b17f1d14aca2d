"""Model search: Ray Tune over XGBoost parameters and class weighting, judged on time folds.

Off by default (``training.search_trials = 0``: training takes the time it
always took). With N trials, ``fraudlens train`` first asks Ray Tune for N
configurations of the space below (a random search seeded with
``training.seed``: the same seed gives the same trials and the same choice)
and judges each one on the backtest folds (``training.backtest``) that end
where the run's training period ends:

* the folds see only the labels known at the run's label cut-off (its
  validation start), so the search learns nothing the run could not know;
* per fold, one booster is fitted in the trial's process with the same
  parameters as the Ray Train member (``train_xgb_local``), early-stopped on
  the fold's validation days; its test block gives the figure
  (``training.search_metric``: average precision by default, card
  precision@k with detected cards removed, or net savings at the review
  threshold chosen on the fold's validation days);
* a trial's figure is the mean over folds; the best trial wins (ties: the
  earlier trial).

The chosen values replace ``xgb_max_depth``, ``xgb_learning_rate``,
``xgb_max_bin`` and ``imbalance_powers`` for the run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from ray import tune
from ray.tune import Result
from ray.tune.search.basic_variant import BasicVariantGenerator

from fraudlens.errors import ModelError
from fraudlens.settings import BacktestSettings, TrainingSettings
from training.backtest import FoldFrames, check_span, fold_metrics, fold_split, plan_folds
from training.ensemble import choose_thresholds
from training.ray_runtime import ensure_ray
from training.split import known_labels
from training.train_xgb import LABEL, pos_weights, train_xgb_local

logger = logging.getLogger(__name__)

SPACE: dict[str, Any] = {
    "xgb_max_depth": tune.choice([2, 3, 4, 6, 8]),
    "xgb_learning_rate": tune.loguniform(0.03, 0.3),
    "xgb_max_bin": tune.choice([256, 1024, 4096]),
    "imbalance_power": tune.choice([0.0, 0.5, 1.0]),
}


@dataclass(frozen=True)
class SearchResult:
    """The chosen values and every trial's configuration and figure, in trial order."""

    metric: str
    best: dict[str, Any]
    trials: list[dict[str, Any]]

    def apply(self, cfg: TrainingSettings) -> TrainingSettings:
        """``cfg`` with the chosen values."""
        return with_config(cfg, self.best)


def run_name(now: float) -> str:
    """The Tune experiment's name at ``now`` (UTC), such as ``search-20261207T025218``.

    The date and time stay apart (``T``): written ``20261207-025218`` they read as
    one 14-digit number, which a card-number scan flags whenever it passes Luhn.
    """
    return "search-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))


def with_config(cfg: TrainingSettings, config: dict[str, Any]) -> TrainingSettings:
    """Training settings with one trial's values."""
    return cfg.model_copy(
        update={
            "xgb_max_depth": int(config["xgb_max_depth"]),
            "xgb_learning_rate": float(config["xgb_learning_rate"]),
            "xgb_max_bin": int(config["xgb_max_bin"]),
            "imbalance_powers": [float(config["imbalance_power"])],
        }
    )


def fold_figure(
    frames: FoldFrames, features: list[str], cfg: TrainingSettings, metric: str
) -> float:
    """Fit one booster on a fold and return ``metric`` on its test block."""
    weight = pos_weights(frames.train[LABEL], cfg.imbalance_powers)[0]
    booster = train_xgb_local(frames.train, frames.valid, features, cfg, weight, nthread=1)
    valid = _probability(booster, frames.valid, features)
    thresholds = choose_thresholds(valid, frames.valid[LABEL].to_numpy(np.int8), cfg)
    test = _probability(booster, frames.test, features)
    return float(fold_metrics(frames.test, test, thresholds, cfg)["metrics"][metric])


def _probability(booster: xgb.Booster, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    out = booster.inplace_predict(frame[features].to_numpy(np.float32))
    return np.asarray(out, dtype=np.float64)


def _trial(
    config: dict[str, Any],
    folds: list[FoldFrames],
    features: list[str],
    cfg: TrainingSettings,
    metric: str,
) -> None:
    """Ray Tune trial: one configuration, every fold, one report."""
    trial_cfg = with_config(cfg, config)
    figures = [fold_figure(frames, features, trial_cfg, metric) for frames in folds]
    tune.report({metric: float(np.nanmean(figures)), "folds": figures})


def search_folds(
    frame: pd.DataFrame,
    cutoff: pd.Timestamp,
    end: pd.Timestamp,
    cfg: TrainingSettings,
    bcfg: BacktestSettings,
) -> list[FoldFrames]:
    """The folds a search judges on: test blocks ending at ``end``, labels known at ``cutoff``.

    Raises:
        ConfigError, DataError: see ``training.backtest``.
    """
    seen, _ = known_labels(frame[frame["event_time"] < cutoff], cutoff, cfg)
    gap = bcfg.gap_days if bcfg.gap_days is not None else cfg.label_delay_days
    folds = plan_folds(end, bcfg, cfg.validation_days, gap)
    check_span(folds, seen["event_time"].min(), seen["event_time"].max())
    return [fold_split(seen, fold, cfg) for fold in folds]


def _trial_id(result: Result) -> str:
    return str((result.metrics or {}).get("trial_id", ""))


def search(
    folds: list[FoldFrames],
    features: list[str],
    cfg: TrainingSettings,
    storage: Path,
) -> SearchResult:
    """Run ``cfg.search_trials`` Ray Tune trials on the folds and pick the best.

    Raises:
        ModelError: a trial failed.
    """
    ensure_ray(cfg)
    metric = cfg.search_metric
    trainable = tune.with_resources(
        tune.with_parameters(_trial, folds=folds, features=features, cfg=cfg, metric=metric),
        {"cpu": cfg.ray_cpus_per_worker},
    )
    storage.mkdir(parents=True, exist_ok=True)
    tuner = tune.Tuner(
        trainable,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            num_samples=cfg.search_trials,
            search_alg=BasicVariantGenerator(random_state=cfg.seed),
        ),
        run_config=tune.RunConfig(
            name=run_name(time.time()),
            storage_path=str(storage.resolve()),
            verbose=0,
        ),
    )
    started = time.perf_counter()
    grid = tuner.fit()
    trials = []
    # Trial ids end in a counter: sorted, they are in creation order, which the seed fixes.
    results = sorted((grid[i] for i in range(len(grid))), key=_trial_id)
    for result in results:
        figures, config = result.metrics or {}, result.config or {}
        if result.error is not None or metric not in figures:
            raise ModelError(f"model search: a Ray Tune trial failed: {result.error}")
        trials.append({**{key: config[key] for key in SPACE}, metric: float(figures[metric])})
    best = max(
        enumerate(trials), key=lambda it: (np.nan_to_num(it[1][metric], nan=-np.inf), -it[0])
    )
    chosen = {key: best[1][key] for key in SPACE}
    logger.info(
        "search: %d trials in %.0f s; best %s = %.4f with %s",
        len(trials),
        time.perf_counter() - started,
        metric,
        best[1][metric],
        chosen,
    )
    return SearchResult(metric, chosen, trials)
