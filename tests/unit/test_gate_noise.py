"""Gate guards: a loss of one fraud on a small holdout is noise, a real loss still refuses."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fraudlens.model import Thresholds
from fraudlens.settings import TrainingSettings
from training.evaluate import fraud_metrics
from training.gate_noise import guard_bound
from training.promote import compare

THRESHOLDS = Thresholds(review=0.5, decline=0.9)
GUARD = "recall_at_1pct_fpr"


def _holdout(frauds: int = 29, legit: int = 3000) -> tuple[pd.DataFrame, np.ndarray]:
    """Three days, ``frauds`` frauds, and the champion's scores (half the frauds on top)."""
    rng = np.random.default_rng(3)
    n = frauds + legit
    y = np.arange(n) < frauds
    scores = rng.uniform(0.0, 0.6, n)
    scores[:frauds:2] = rng.uniform(0.9, 1.0, len(range(0, frauds, 2)))  # caught at 1 % FPR
    frame = pd.DataFrame(
        {
            "event_time": pd.Timestamp("2026-08-25", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 3 * 86400, n), unit="s"),
            "card_token": [f"t{i % 900}" for i in range(n)],
            "amount": rng.uniform(1, 200, n),
            "is_fraud": y,
        }
    )
    return frame, scores


def _figures(frame: pd.DataFrame, scores: np.ndarray, cfg: TrainingSettings) -> dict[str, float]:
    return fraud_metrics(frame, scores, THRESHOLDS, cfg)


def test_one_fraud_less_at_one_percent_fpr_is_noise() -> None:
    cfg = TrainingSettings()
    frame, champion = _holdout()
    challenger = champion.copy()
    challenger[0] = 0.3  # one fraud the champion caught falls among the legitimate scores
    new, old = _figures(frame, challenger, cfg), _figures(frame, champion, cfg)
    assert old[GUARD] - new[GUARD] > cfg.gate_tolerance  # the point estimate alone refuses
    assert not compare(new, old, cfg)[0]
    pair = (THRESHOLDS, THRESHOLDS)
    upper = guard_bound(frame, (challenger, champion), pair, GUARD, cfg, resamples=100)
    assert upper >= -cfg.gate_tolerance
    better = {**new, "average_precision": old["average_precision"] + 0.01}
    ok, reasons = compare(better, old, cfg.model_copy(update={"gate_guard_metrics": [GUARD]}))
    assert not ok
    ok, reasons = compare(
        better,
        old,
        cfg.model_copy(update={"gate_guard_metrics": [GUARD]}),
        lambda guard: upper,
    )
    assert ok and any("within the holdout's noise" in r for r in reasons)


def test_a_real_loss_still_refuses() -> None:
    cfg = TrainingSettings(gate_guard_metrics=[GUARD])
    frame, champion = _holdout()
    challenger = champion.copy()
    challenger[:29] = 0.3  # misses every fraud the champion caught
    new, old = _figures(frame, challenger, cfg), _figures(frame, champion, cfg)
    pair = (THRESHOLDS, THRESHOLDS)
    upper = guard_bound(frame, (challenger, champion), pair, GUARD, cfg, resamples=100)
    assert upper < -cfg.gate_tolerance
    better = {**new, "average_precision": old["average_precision"] + 0.01}
    ok, reasons = compare(better, old, cfg, lambda guard: upper)
    assert not ok and any(f"{GUARD} regresses" in r for r in reasons)


def test_bounds_are_deterministic() -> None:
    cfg = TrainingSettings()
    frame, champion = _holdout()
    challenger = champion[::-1].copy()
    pair = (THRESHOLDS, THRESHOLDS)
    for guard in cfg.gate_guard_metrics:
        first = guard_bound(frame, (challenger, champion), pair, guard, cfg, resamples=20)
        assert first == guard_bound(frame, (challenger, champion), pair, guard, cfg, resamples=20)
        assert not math.isnan(first)
