"""Choose the ensemble on validation: members, blend weight, calibration, thresholds.

1. Each member keeps its imbalance candidate with the best validation AP.
2. The blend weight w (XGBoost share) is the grid value whose blend of the
   members' standardized log-odds has the best validation AP; w = 1 or 0 means
   one member alone was better. The model stores the equivalent weight on raw
   log-odds (same ranking).
3. Platt scaling (logistic regression on the blend) maps it to a probability.
4. Thresholds: ``review`` flags the top ``alert_budget`` share of validation
   rows; ``decline`` is the lowest score at or above it whose validation
   precision reaches ``decline_precision`` (1.0, i.e. never, if none does).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from fraudlens.model import FraudModel, MlpMember, Thresholds
from fraudlens.model.mlp import scale
from fraudlens.settings import TrainingSettings
from training.train_torch import MlpCandidate
from training.train_xgb import XgbCandidate

logger = logging.getLogger(__name__)

WEIGHT_GRID = tuple(round(float(w), 2) for w in np.linspace(0.0, 1.0, 11))
MIN_DECLINES = 5  # a decline threshold needs at least this many validation rows above it


@dataclass(frozen=True)
class Choice:
    """What validation chose, with the figures behind each choice."""

    xgb: XgbCandidate
    mlp: MlpCandidate
    weight: float
    grid_weight: float
    calibration: tuple[float, float]
    thresholds: Thresholds
    candidate_ap: dict[str, float]
    blend_ap: dict[float, float]


def _ap(y: np.ndarray, scores: np.ndarray) -> float:
    return float(average_precision_score(y, scores))


def xgb_margin(booster: xgb.Booster, x: np.ndarray) -> np.ndarray:
    """Log-odds of a booster for a float32 matrix."""
    return np.asarray(booster.inplace_predict(x, predict_type="margin"), dtype=np.float64)


def mlp_logit(member: MlpMember, x: np.ndarray) -> np.ndarray:
    """Logits of an MLP member for a float32 matrix."""
    import torch

    with torch.inference_mode():
        out = member.module(torch.from_numpy(scale(x, member.mean, member.std)))
    logits: np.ndarray = out.numpy().astype(np.float64)
    return logits


def fit_calibration(blend: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: slope and intercept of a logistic fit on the blend."""
    lr = LogisticRegression(C=1e4, max_iter=1000)
    lr.fit(blend.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def choose_thresholds(scores: np.ndarray, y: np.ndarray, cfg: TrainingSettings) -> Thresholds:
    """Review and decline thresholds from validation scores (see the module docstring)."""
    k = max(1, int(np.ceil(cfg.alert_budget * len(scores))))
    ranked = np.sort(scores)[::-1]
    review = float(ranked[k - 1])
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(y[order])
    counts = np.arange(1, len(y) + 1)
    precision = hits / counts
    ok = (precision >= cfg.decline_precision) & (counts >= MIN_DECLINES) & (scores[order] >= review)
    decline = float(scores[order][np.flatnonzero(ok).max()]) if ok.any() else 1.0
    return Thresholds(review=review, decline=max(decline, review))


def choose(
    xgbs: Sequence[XgbCandidate],
    mlps: Sequence[MlpCandidate],
    valid: pd.DataFrame,
    features: list[str],
    cfg: TrainingSettings,
) -> Choice:
    """Pick members, blend weight, calibration and thresholds on validation rows."""
    x = valid[features].to_numpy(np.float32)
    y = valid["is_fraud"].to_numpy(np.int8)
    aps: dict[str, float] = {}
    margins = [xgb_margin(c.booster, x) for c in xgbs]
    logits = [mlp_logit(c.member, x) for c in mlps]
    for xc, margin in zip(xgbs, margins, strict=True):
        aps[f"xgb_p{xc.power:g}"] = _ap(y, margin)
    for mc, logit in zip(mlps, logits, strict=True):
        aps[f"mlp_p{mc.power:g}"] = _ap(y, logit)
    bx = int(np.argmax([aps[f"xgb_p{xc.power:g}"] for xc in xgbs]))
    bm = int(np.argmax([aps[f"mlp_p{mc.power:g}"] for mc in mlps]))
    # The grid weighs standardized log-odds, so w compares the members, not their scales.
    sx, sm = float(margins[bx].std()) or 1.0, float(logits[bm].std()) or 1.0
    zx, zm = margins[bx] / sx, logits[bm] / sm
    blend_ap = {w: _ap(y, w * zx + (1 - w) * zm) for w in WEIGHT_GRID}
    best_w = max(blend_ap, key=lambda w: (blend_ap[w], w))
    # The same ranking on raw log-odds: the scale factor goes into the calibration slope.
    weight = float((best_w / sx) / (best_w / sx + (1 - best_w) / sm))
    blend = weight * margins[bx] + (1 - weight) * logits[bm]
    a, b = fit_calibration(blend, y)
    scores = 1.0 / (1.0 + np.exp(-(a * blend + b)))
    thresholds = choose_thresholds(scores, y, cfg)
    logger.info(
        "ensemble: xgb p=%g, mlp p=%g, weight %.2f, validation AP %.4f, review %.4f, decline %.4f",
        xgbs[bx].power,
        mlps[bm].power,
        best_w,
        blend_ap[best_w],
        thresholds.review,
        thresholds.decline,
    )
    return Choice(xgbs[bx], mlps[bm], weight, best_w, (a, b), thresholds, aps, blend_ap)


def build_model(choice: Choice, features: list[str], feature_service: str) -> FraudModel:
    """The ``FraudModel`` that the choice describes (no reference or lineage yet)."""
    return FraudModel(
        booster=choice.xgb.booster,
        mlp=choice.mlp.member,
        weight=choice.weight,
        calibration=choice.calibration,
        feature_names=list(features),
        feature_service=feature_service,
        thresholds=choice.thresholds,
    )
