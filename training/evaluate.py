"""Fraud metrics: ranking quality, alert budgets, cards per day, money.

Every metric takes the scored frame (``event_time``, ``card_token``,
``amount``, ``is_fraud``, ``fraud_scenario``) and one score per row.

* ``roc_auc``, ``average_precision`` (PR-AUC);
* ``precision_at_budget`` / ``recall_at_budget``: the top ``alert_budget``
  share of transactions by score, as a fixed team capacity would review them;
* ``card_precision_at_k``: each day, the k cards with the highest score; the
  share of them that had a fraud that day, averaged over days;
* ``recall_at_1pct_fpr``: fraud caught while flagging 1 % of legit rows;
* at the review threshold: alerts, precision, recall, fraud amount caught,
  review cost (alerts x ``review_cost``) and net savings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from fraudlens.model import Thresholds
from fraudlens.settings import TrainingSettings

HEADLINE = ("average_precision", "roc_auc", "card_precision_at_k", "recall_at_1pct_fpr")


def _ranked(y: np.ndarray, scores: np.ndarray, fn: str) -> float:
    if y.min() == y.max():
        return math.nan
    if fn == "auc":
        return float(roc_auc_score(y, scores))
    return float(average_precision_score(y, scores))


def recall_at_fpr(y: np.ndarray, scores: np.ndarray, fpr: float = 0.01) -> float:
    """Largest true-positive rate with a false-positive rate of at most ``fpr``."""
    if y.min() == y.max():
        return math.nan
    fprs, tprs, _ = roc_curve(y, scores)
    return float(tprs[fprs <= fpr].max())


def top_share(y: np.ndarray, scores: np.ndarray, share: float) -> tuple[float, float]:
    """Precision and recall of the top ``share`` of rows by score."""
    k = max(1, math.ceil(share * len(y)))
    top = np.argsort(-scores, kind="stable")[:k]
    caught = float(y[top].sum())
    return caught / k, caught / max(float(y.sum()), 1.0)


def card_precision_at_k(frame: pd.DataFrame, scores: np.ndarray, k: int) -> float:
    """Mean over days of the share of the day's top-k cards that had a fraud."""
    cards = pd.DataFrame(
        {
            "day": frame["event_time"].dt.floor("D").to_numpy(),
            "card": frame["card_token"].to_numpy(),
            "score": scores,
            "fraud": frame["is_fraud"].to_numpy(dtype=bool),
        }
    )
    per_card = cards.groupby(["day", "card"], sort=False).agg(
        score=("score", "max"), fraud=("fraud", "max")
    )
    per_card = per_card.reset_index().sort_values(["day", "score"], ascending=[True, False])
    top = per_card[per_card.groupby("day").cumcount() < k]
    return float(top.groupby("day")["fraud"].mean().mean()) if len(top) else math.nan


def fraud_metrics(
    frame: pd.DataFrame, scores: np.ndarray, thresholds: Thresholds, cfg: TrainingSettings
) -> dict[str, float]:
    """All metrics of the module docstring for one scored period."""
    y = frame["is_fraud"].to_numpy(dtype=np.int8)
    amount = frame["amount"].to_numpy(dtype=np.float64)
    alert = scores >= thresholds.review
    decline = scores >= thresholds.decline
    n_alerts = int(alert.sum())
    caught = float(amount[alert & (y == 1)].sum())
    cost = n_alerts * cfg.review_cost
    p_budget, r_budget = top_share(y, scores, cfg.alert_budget)
    return {
        "rows": float(len(y)),
        "frauds": float(y.sum()),
        "fraud_rate": float(y.mean()) if len(y) else math.nan,
        "roc_auc": _ranked(y, scores, "auc"),
        "average_precision": _ranked(y, scores, "ap"),
        "precision_at_budget": p_budget,
        "recall_at_budget": r_budget,
        "card_precision_at_k": card_precision_at_k(frame, scores, cfg.cards_per_day),
        "recall_at_1pct_fpr": recall_at_fpr(y, scores, 0.01),
        "alerts": float(n_alerts),
        "alert_rate": n_alerts / max(len(y), 1),
        "precision_at_review": float(y[alert].mean()) if n_alerts else math.nan,
        "recall_at_review": float(y[alert].sum() / max(y.sum(), 1)),
        "declines": float(decline.sum()),
        "precision_at_decline": float(y[decline].mean()) if decline.any() else math.nan,
        "fraud_amount": float(amount[y == 1].sum()),
        "fraud_amount_caught": caught,
        "review_cost": cost,
        "net_savings": caught - cost,
    }


def one_metric(
    name: str,
    frame: pd.DataFrame,
    scores: np.ndarray,
    thresholds: Thresholds,
    cfg: TrainingSettings,
) -> float:
    """One figure of ``fraud_metrics``, computing only it where it can (the gate's bootstrap)."""
    y = frame["is_fraud"].to_numpy(dtype=np.int8)
    if name in ("roc_auc", "average_precision"):
        return _ranked(y, scores, "auc" if name == "roc_auc" else "ap")
    if name == "card_precision_at_k":
        return card_precision_at_k(frame, scores, cfg.cards_per_day)
    if name == "recall_at_1pct_fpr":
        return recall_at_fpr(y, scores, 0.01)
    return fraud_metrics(frame, scores, thresholds, cfg)[name]


ALL_FRAUD = "all fraud"
NO_SCENARIO = "(no scenario)"


def scenario_table(
    frame: pd.DataFrame, scores: np.ndarray, thresholds: Thresholds, cfg: TrainingSettings
) -> pd.DataFrame:
    """Metrics per fraud scenario: that scenario's frauds against all legit rows.

    Frauds without a scenario (imported data often has none) form one row:
    ``all fraud`` when no fraud has a scenario, else ``(no scenario)``. Every
    fraud is in exactly one row; the table is empty only without fraud.
    """
    fraud = frame["is_fraud"].to_numpy(dtype=bool)
    if "fraud_scenario" in frame:
        scenario = frame["fraud_scenario"].fillna("").astype(str).to_numpy(dtype=object)
    else:
        scenario = np.full(len(frame), "", dtype=object)
    names = sorted(set(scenario[fraud]) - {""})
    unnamed = bool((fraud & (scenario == "")).any())
    groups = [(name, name) for name in names]
    if unnamed:
        groups.append((NO_SCENARIO if names else ALL_FRAUD, ""))
    rows = []
    for label, name in groups:
        keep = ~fraud | (scenario == name)
        m = fraud_metrics(frame[keep], scores[keep], thresholds, cfg)
        rows.append(
            {
                "scenario": label,
                "frauds": int(m["frauds"]),
                "average_precision": m["average_precision"],
                "roc_auc": m["roc_auc"],
                "card_precision_at_k": m["card_precision_at_k"],
                "recall_at_review": m["recall_at_review"],
                "fraud_amount": m["fraud_amount"],
                "fraud_amount_caught": m["fraud_amount_caught"],
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one scored period and their per-scenario breakdown."""

    metrics: dict[str, float]
    scenarios: pd.DataFrame

    def markdown(self) -> str:
        """Headline metrics and the scenario table as markdown."""
        head = "| metric | value |\n|---|---|\n" + "\n".join(
            f"| {key} | {value:.4g} |" for key, value in self.metrics.items()
        )
        return head + "\n\n" + _frame_markdown(self.scenarios)


def _frame_markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(no fraud in this period)"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate(
    frame: pd.DataFrame, scores: np.ndarray, thresholds: Thresholds, cfg: TrainingSettings
) -> Evaluation:
    """Score-based evaluation of one period (validation, test or a holdout).

    Args:
        frame: the period's rows with labels (see the module docstring).
        scores: the model's score for each row.
        thresholds: review / decline thresholds to judge.
        cfg: training settings (alert budget, k, review cost).
    """
    return Evaluation(
        fraud_metrics(frame, scores, thresholds, cfg),
        scenario_table(frame, scores, thresholds, cfg),
    )
