"""Fit the ensemble on one train/validation pair: the step ``train`` and ``backtest`` share.

train rows -> vocabularies of the categorical extras (training rows only) ->
one-hot columns -> Ray Train (XGBoost candidates, MLP candidates) -> members,
blend weight, calibration and thresholds chosen on the validation rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fraudlens.features import categories
from fraudlens.model import FraudModel
from fraudlens.settings import TrainingSettings
from training.ensemble import Choice, build_model, choose
from training.ray_runtime import ensure_ray
from training.train_torch import train_mlp
from training.train_xgb import train_xgb

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fitted:
    """The ensemble, the choices behind it and the seconds each trainer took."""

    model: FraudModel
    choice: Choice
    seconds: dict[str, float] = field(default_factory=dict)


def fit_ensemble(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    features: list[str],
    feature_service: str,
    cfg: TrainingSettings,
    storage: Path,
    categorical: Mapping[str, str] | None = None,
) -> Fitted:
    """Train both members with Ray Train and choose the ensemble on ``valid``.

    Args:
        train: training rows (features and ``is_fraud``).
        valid: validation rows: early stopping, member and blend choice, thresholds.
        features: feature columns, in model order.
        feature_service: the Feast feature service the features come from.
        cfg: training settings.
        storage: folder for Ray Train checkpoints.
        categorical: categorical extras (name -> default) whose raw text columns
            ``x_<name>`` are in the frames: their vocabularies are learned on
            ``train`` and their one-hot columns follow ``features`` in the
            model; the model's metadata keeps the vocabularies.

    Raises:
        ModelError: a Ray Train run failed.
    """
    vocabularies = categories.learn(
        train, categorical or {}, cfg.categorical_min_count, cfg.categorical_max_categories
    )
    if vocabularies:
        logger.info(
            "categorical extras: %s",
            ", ".join(f"{v.name} {len(v.values)} values + other" for v in vocabularies),
        )
        train = categories.with_onehot(train, vocabularies)
        valid = categories.with_onehot(valid, vocabularies)
        features = [*features, *categories.onehot_names(vocabularies)]
    ensure_ray(cfg)
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    xgbs = train_xgb(train, valid, features, cfg, storage)
    clock["xgboost"] = time.perf_counter() - t0
    logger.info("XGBoost done in %.0f s; MLP with Ray Train", clock["xgboost"])
    t0 = time.perf_counter()
    mlps = train_mlp(train, features, cfg, storage)
    clock["mlp"] = time.perf_counter() - t0
    logger.info("MLP done in %.0f s; choosing the ensemble", clock["mlp"])
    choice = choose(xgbs, mlps, valid, features, cfg)
    model = build_model(choice, features, feature_service)
    if vocabularies:
        model.metadata[categories.METADATA_KEY] = categories.to_metadata(vocabularies)
    return Fitted(model, choice, clock)
