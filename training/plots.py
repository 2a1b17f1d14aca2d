"""Evaluation plots as PNG files: PR curve, scores by class, calibration, importance.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot global state,
no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve

TOP_FEATURES = 20


def pr_curve(periods: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Precision-recall curves, one per period (``{name: (y, scores)}``)."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for name, (y, scores) in periods.items():
        precision, recall, _ = precision_recall_curve(y, scores)
        ax.plot(recall, precision, label=name)
    ax.set(
        xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.02)
    )
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def score_distribution(y: np.ndarray, scores: np.ndarray, path: Path) -> Path:
    """Histograms of scores for legit and fraud rows (log counts)."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    bins = np.linspace(0.0, 1.0, 51).tolist()
    kw = {"bins": bins, "alpha": 0.6, "log": True, "histtype": "stepfilled"}  # 1 patch, not 50
    ax.hist(scores[y == 0], label="legit", **kw)
    ax.hist(scores[y == 1], label="fraud", **kw)
    ax.set(xlabel="score", ylabel="rows (log)", title="Score distribution by class")
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def calibration(y: np.ndarray, scores: np.ndarray, path: Path) -> Path:
    """Reliability diagram: mean score vs. observed fraud rate per quantile bin."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    observed, predicted = calibration_curve(y, scores, n_bins=10, strategy="quantile")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.plot(predicted, observed, marker="o", label="model")
    ax.set(xlabel="mean score", ylabel="fraud rate")
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_title("Calibration (test)")
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def feature_importance(importance: dict[str, float], path: Path) -> Path:
    """Horizontal bars of the top features by XGBoost total gain."""
    top = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:TOP_FEATURES]
    fig = Figure(figsize=(6, 0.3 * len(top) + 1.2))
    ax = fig.subplots()
    names = [name for name, _ in reversed(top)]
    ax.barh(names, [value for _, value in reversed(top)])
    ax.set(xlabel="total gain", title="Feature importance (XGBoost member)")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def backtest_folds(folds: list[dict[str, Any]], path: Path) -> Path:
    """Per-fold ranking metrics (left) and the share of fraud money caught (right)."""
    fig = Figure(figsize=(10, 4.5))
    left, right = fig.subplots(1, 2)
    labels = [f"{f['fold']}\n{str(f['cutoff'])[:10]}" for f in folds]
    x = np.arange(len(folds))
    for key in ("average_precision", "roc_auc", "card_precision_at_k"):
        left.plot(x, [f["metrics"][key] for f in folds], marker="o", label=key)
    left.set(title="Ranking per fold", xlabel="fold (cut-off)", ylim=(0, 1.02))
    left.set_xticks(x, labels)
    left.legend()
    right.bar(x, [f["metrics"]["money_caught_share"] for f in folds])
    right.set(title="Fraud amount caught at the review threshold", ylim=(0, 1.02))
    right.set_xticks(x, labels)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path
