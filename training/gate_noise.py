"""Is a guard metric's loss on the gate's holdout real, or the holdout's noise?

A holdout of a few days knows a few dozen frauds, so count-based guards move
in steps: one fraud of 29 is 0.034 of ``recall_at_1pct_fpr``, more than the
default ``gate_tolerance`` (0.01). Judged on point estimates, a guard then
refuses a challenger for one fraud that the champion happened to rank higher
(the drift scenario's loop refused a retrained model with AP 0.96 against the
champion's 0.56 on the following days this way).

A paired, stratified bootstrap over the holdout's rows (frauds and legitimate
rows resampled apart, both models scored on the same resample) bounds the
challenger-minus-champion difference of a guard; the loss is real when even
that bound, at ``training.gate_guard_confidence``, is below ``-gate_tolerance``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fraudlens.model import Thresholds
from fraudlens.settings import TrainingSettings
from training.evaluate import one_metric


def guard_bound(
    frame: pd.DataFrame,
    scores: tuple[np.ndarray, np.ndarray],
    thresholds: tuple[Thresholds, Thresholds],
    guard: str,
    cfg: TrainingSettings,
    resamples: int = 200,
    seed: int = 0,
) -> float:
    """Upper confidence bound of (challenger - champion) on ``guard``, at ``gate_guard_confidence``.

    Args:
        frame: the holdout (``is_fraud`` and the columns the metric reads).
        scores: the challenger's and the champion's score of each row.
        thresholds: their thresholds, in the same order.
        guard: a metric name of ``training.evaluate.fraud_metrics``.
        cfg: training settings (confidence, metric parameters).
        resamples: bootstrap resamples.
        seed: resampling seed (the bound is deterministic for a given seed).

    Returns:
        The bound; NaN when no resample gave both figures.
    """
    y = frame["is_fraud"].to_numpy(dtype=bool)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    rng = np.random.default_rng(seed)
    diffs: list[float] = []
    for _ in range(resamples):
        rows = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        part = frame.iloc[rows]
        new = one_metric(guard, part, scores[0][rows], thresholds[0], cfg)
        old = one_metric(guard, part, scores[1][rows], thresholds[1], cfg)
        if not (math.isnan(new) or math.isnan(old)):
            diffs.append(new - old)
    return float(np.quantile(diffs, cfg.gate_guard_confidence)) if diffs else math.nan
