"""XGBoost member: distributed training with Ray Train (``XGBoostTrainer``).

One Ray Train run fits every class-imbalance candidate (``scale_pos_weight`` =
(legit / fraud) ** p for p in ``imbalance_powers``) on the same worker group,
and reports to Ray Train once, at the end, with all boosters in the
checkpoint: reporting every boosting round costs seconds each on a small
machine. The driver then keeps the candidate with the best validation AP.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray.train
import xgboost as xgb
from ray.train.xgboost import XGBoostTrainer

from fraudlens.errors import ModelError
from fraudlens.settings import TrainingSettings
from training.ray_runtime import run_config, scaling, threads_per_worker, to_ray

logger = logging.getLogger(__name__)

LABEL = "is_fraud"


@dataclass(frozen=True)
class XgbCandidate:
    """One fitted booster and the positive weight it was trained with."""

    power: float
    pos_weight: float
    booster: xgb.Booster


def pos_weights(labels: pd.Series, powers: Sequence[float]) -> list[float]:
    """Positive-class weights (legit / fraud) ** p for each power p."""
    pos = max(int(labels.sum()), 1)
    ratio = (len(labels) - pos) / pos
    return [float(ratio**p) for p in powers]


def xgb_params(
    cfg: TrainingSettings, pos_weight: float, nthread: int, features: Sequence[str]
) -> dict[str, Any]:
    """Booster parameters shared by the Ray run and the single-process baseline.

    Tree method and bins are ``xgb_tree_method`` / ``xgb_max_bin``; boosting
    stops on ``xgb_early_stopping_metric``. Monotone constraints
    (``xgb_monotone``, none by default) encode domain priors where a user
    trusts one; a prior true of one fraud pattern is false of another (risk
    rises with the amount, except in card testing), and each default prior
    cost validation AP on the backtest folds.
    """
    monotone = {name: sign for name, sign in cfg.xgb_monotone.items() if name in features}
    # exact tries every value and has no bins
    bins = {} if cfg.xgb_tree_method == "exact" else {"max_bin": cfg.xgb_max_bin}
    return {
        "objective": "binary:logistic",
        "eval_metric": cfg.xgb_early_stopping_metric,
        "tree_method": cfg.xgb_tree_method,
        **bins,
        "max_depth": cfg.xgb_max_depth,
        "eta": cfg.xgb_learning_rate,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 1.0,
        "scale_pos_weight": pos_weight,
        "seed": cfg.seed,
        "nthread": nthread,
        "monotone_constraints": monotone,
    }


def fit_booster(
    params: dict[str, Any],
    dtrain: xgb.DMatrix,
    dvalid: xgb.DMatrix,
    rounds: int,
    early_stopping: int,
) -> xgb.Booster:
    """Train with early stopping on the validation metric; keep only the best rounds."""
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=rounds,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=early_stopping,
        verbose_eval=False,
    )
    best = getattr(booster, "best_iteration", None)
    return booster[: best + 1] if best is not None else booster


def _matrix(frame: pd.DataFrame, features: list[str]) -> xgb.DMatrix:
    return xgb.DMatrix(frame[features], label=frame[LABEL], feature_names=features)


def _worker(config: dict[str, Any]) -> None:
    """Ray Train worker: fit every candidate on this worker's shard, report once."""
    features: list[str] = config["features"]
    train = ray.train.get_dataset_shard("train").materialize().to_pandas()
    valid = ray.train.get_dataset_shard("valid").materialize().to_pandas()
    dtrain, dvalid = _matrix(train, features), _matrix(valid, features)
    boosters = [
        fit_booster(params, dtrain, dvalid, config["rounds"], config["early_stopping"])
        for params in config["params"]
    ]
    rounds = {f"rounds_{i}": float(b.num_boosted_rounds()) for i, b in enumerate(boosters)}
    if ray.train.get_context().get_world_rank() != 0:
        ray.train.report(rounds, checkpoint=None)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for i, booster in enumerate(boosters):
            booster.save_model(str(Path(tmp) / f"xgb_{i}.ubj"))
        ray.train.report(rounds, checkpoint=ray.train.Checkpoint.from_directory(tmp))


def train_xgb(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    features: list[str],
    cfg: TrainingSettings,
    storage: Path,
) -> list[XgbCandidate]:
    """Fit the XGBoost candidates with Ray Train.

    Args:
        train: training rows (features and ``is_fraud``).
        valid: validation rows, for early stopping.
        features: feature columns, in model order.
        cfg: training settings (rounds, depth, workers, imbalance candidates).
        storage: folder for Ray Train checkpoints.

    Raises:
        ModelError: the Ray Train run failed.
    """
    weights = pos_weights(train[LABEL], cfg.imbalance_powers)
    nthread = threads_per_worker(cfg)
    cols = [*features, LABEL]
    trainer = XGBoostTrainer(
        _worker,
        train_loop_config={
            "features": features,
            "params": [xgb_params(cfg, w, nthread, features) for w in weights],
            "rounds": cfg.xgb_rounds,
            "early_stopping": cfg.xgb_early_stopping,
        },
        scaling_config=scaling(cfg),
        run_config=run_config(storage, "xgb"),
        datasets={
            "train": to_ray(_float32(train, cols), cols),
            "valid": to_ray(_float32(valid, cols), cols),
        },
    )
    started = time.perf_counter()
    try:
        result = trainer.fit()
    except Exception as exc:  # Ray wraps worker errors in its own types
        raise ModelError(f"XGBoost Ray Train run failed: {exc}") from exc
    if result.checkpoint is None:
        raise ModelError("XGBoost Ray Train run returned no checkpoint")
    with result.checkpoint.as_directory() as folder:
        candidates = []
        for i, (power, weight) in enumerate(zip(cfg.imbalance_powers, weights, strict=True)):
            booster = xgb.Booster()
            booster.load_model(str(Path(folder) / f"xgb_{i}.ubj"))
            candidates.append(XgbCandidate(power, weight, booster))
    logger.info(
        "xgboost: %d candidate(s) in %.1f s with Ray Train",
        len(candidates),
        time.perf_counter() - started,
    )
    return candidates


def train_xgb_local(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    features: list[str],
    cfg: TrainingSettings,
    pos_weight: float,
    nthread: int,
) -> xgb.Booster:
    """The same fit in this process, without Ray (baseline for the benchmark and tests)."""
    cols = [*features, LABEL]
    dtrain = _matrix(_float32(train, cols), features)
    dvalid = _matrix(_float32(valid, cols), features)
    params = xgb_params(cfg, pos_weight, nthread, features)
    return fit_booster(params, dtrain, dvalid, cfg.xgb_rounds, cfg.xgb_early_stopping)


def _float32(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: frame[c].to_numpy(dtype=np.float32) for c in cols}, index=frame.index)
