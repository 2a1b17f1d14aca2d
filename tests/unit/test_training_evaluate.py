from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fraudlens.errors import DataError
from fraudlens.model import Thresholds
from fraudlens.settings import TrainingSettings
from training.ensemble import choose_thresholds
from training.evaluate import card_precision_at_k, evaluate, recall_at_fpr, top_share
from training.promote import compare, holdout_periods, in_periods


def _scored(n: int = 2000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.05
    scores = np.clip(rng.normal(0.2, 0.1, n) + 0.4 * y, 0, 1)
    frame = pd.DataFrame(
        {
            "event_time": pd.Timestamp("2026-06-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 5 * 86400, n), unit="s"),
            "card_token": [f"c{i % 300}" for i in range(n)],
            "amount": rng.uniform(1, 200, n),
            "is_fraud": y,
            "fraud_scenario": np.where(y, np.where(rng.random(n) < 0.5, "a", "b"), None),
        }
    )
    return frame, scores


def test_top_share_and_recall_at_fpr() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05])
    assert top_share(y, s, 0.2) == (1.0, 2 / 3)
    assert recall_at_fpr(y, s, 0.0) == pytest.approx(2 / 3)
    assert recall_at_fpr(y, s, 1.0) == 1.0


def test_card_precision_at_k_counts_cards_per_day() -> None:
    t0 = pd.Timestamp("2026-06-01", tz="UTC")
    frame = pd.DataFrame(
        {
            "event_time": [t0, t0, t0, t0 + pd.Timedelta(days=1), t0 + pd.Timedelta(days=1)],
            "card_token": ["a", "a", "b", "a", "c"],
            "is_fraud": [False, True, False, False, False],
        }
    )
    scores = np.array([0.1, 0.9, 0.5, 0.8, 0.2])
    # Day 1: top card "a" had a fraud (1.0); day 2: top card "a" had none (0.0).
    assert card_precision_at_k(frame, scores, 1) == 0.5
    assert card_precision_at_k(frame, scores, 2) == pytest.approx((0.5 + 0.0) / 2)


def test_evaluation_has_money_and_scenarios() -> None:
    frame, scores = _scored()
    cfg = TrainingSettings(alert_budget=0.05, review_cost=2.0)
    thresholds = choose_thresholds(scores, frame["is_fraud"].to_numpy(np.int8), cfg)
    result = evaluate(frame, scores, thresholds, cfg)
    m = result.metrics
    assert 0.9 < m["roc_auc"] <= 1.0 and 0 < m["average_precision"] <= 1
    assert m["alert_rate"] == pytest.approx(0.05, abs=0.005)
    assert m["review_cost"] == m["alerts"] * 2.0
    assert m["net_savings"] == pytest.approx(m["fraud_amount_caught"] - m["review_cost"])
    assert list(result.scenarios["scenario"]) == ["a", "b"]
    assert result.scenarios["frauds"].sum() == m["frauds"]
    assert "| average_precision |" in result.markdown()


def test_decline_threshold_meets_the_precision_target_or_never_declines() -> None:
    frame, scores = _scored()
    y = frame["is_fraud"].to_numpy(np.int8)
    cfg = TrainingSettings(alert_budget=0.05, decline_precision=0.9)
    t = choose_thresholds(scores, y, cfg)
    assert t.review <= t.decline
    declined = scores >= t.decline
    if t.decline < 1.0:
        assert y[declined].mean() >= 0.9
    strict = choose_thresholds(np.zeros(100) + 0.5, np.zeros(100, np.int8), cfg)
    assert strict.decline == 1.0


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        Thresholds(review=0.8, decline=0.5)


def test_gate_needs_margin_on_primary_and_tolerance_on_guards() -> None:
    cfg = TrainingSettings(gate_margin=0.01, gate_tolerance=0.02)
    champion = {
        "average_precision": 0.50,
        "roc_auc": 0.95,
        "recall_at_1pct_fpr": 0.6,
        "card_precision_at_k": 0.3,
    }
    better = {**champion, "average_precision": 0.52, "roc_auc": 0.94}
    assert compare(better, champion, cfg)[0]
    too_little = {**champion, "average_precision": 0.505}
    assert not compare(too_little, champion, cfg)[0]
    regress = {**better, "card_precision_at_k": 0.25}
    ok, reasons = compare(regress, champion, cfg)
    assert not ok and any("card_precision_at_k regresses" in r for r in reasons)
    assert compare(better, {**champion, "average_precision": math.nan}, cfg)[0]


def _tags(day: int) -> dict[str, str]:
    """Lineage tags of a model trained on data ending on July ``day``: 7 days of
    test, 7 of validation, a 14-day gap (the defaults)."""
    end = pd.Timestamp(f"2026-07-{day:02d}", tz="UTC")
    days = [end - pd.Timedelta(days=n) for n in (28, 14, 7, 0)]
    return {
        name: stamp.isoformat()
        for name, stamp in zip(
            ("train_end", "valid_start", "test_start", "data_end"), days, strict=True
        )
    }


def _day(day: int) -> pd.Timestamp:
    return pd.Timestamp(f"2026-07-{day:02d}", tz="UTC")


def test_the_holdout_is_the_challengers_gap_and_test_period_newer_than_the_champion() -> None:
    new, old = _tags(31), _tags(10)  # new: gap Jul 3..17, validation ..24, test ..31
    assert holdout_periods(new, old, _day(31)) == [(_day(3), _day(17)), (_day(24), _day(31))]
    # The champion learned nothing from Jul 3 on; from a later test start, the gap is cut there.
    assert holdout_periods(new, _tags(20), _day(31))[0] == (_day(13), _day(17))


def test_rows_whose_labels_have_not_matured_are_left_out() -> None:
    new, old = _tags(31), _tags(10)
    assert holdout_periods(new, old, _day(26)) == [(_day(3), _day(17)), (_day(24), _day(26))]
    assert holdout_periods(new, old, _day(17)) == [(_day(3), _day(17))]
    with pytest.raises(DataError, match="labels not matured"):
        holdout_periods(new, _tags(24), _day(17))  # the gap predates the champion's test
    with pytest.raises(DataError, match="lineage tag 'test_start'"):
        holdout_periods(new, {}, _day(31))


def test_in_periods_keeps_the_rows_of_the_periods_only() -> None:
    times = pd.date_range("2026-07-01", periods=30, freq="D", tz="UTC")
    frame = pd.DataFrame({"event_time": times, "n": range(30)}, index=range(100, 130))
    kept = in_periods(frame, [(_day(3), _day(5)), (_day(10), _day(11))])
    assert kept["n"].tolist() == [2, 3, 9] and kept.index.tolist() == [0, 1, 2]


def test_frauds_without_scenario_are_one_all_fraud_row() -> None:
    frame, scores = _scored()
    cfg = TrainingSettings()
    thresholds = Thresholds(review=0.5, decline=0.9)
    frauds = int(frame["is_fraud"].sum())
    for data in (frame.assign(fraud_scenario=None), frame.drop(columns="fraud_scenario")):
        result = evaluate(data, scores, thresholds, cfg)
        table = result.scenarios
        assert table["scenario"].tolist() == ["all fraud"]
        assert table["frauds"].tolist() == [frauds]
        assert table["average_precision"].iloc[0] == result.metrics["average_precision"]
        assert "no fraud in this period" not in result.markdown()
        assert f"| all fraud | {frauds} |" in result.markdown()
    # Some frauds named, some not: the unnamed ones get their own row.
    mixed = frame.copy()
    first_fraud = mixed.index[mixed["is_fraud"]][0]
    mixed.loc[first_fraud, "fraud_scenario"] = None
    table = evaluate(mixed, scores, thresholds, cfg).scenarios
    assert table["scenario"].tolist() == ["a", "b", "(no scenario)"]
    assert table["frauds"].sum() == frauds
    # No fraud at all: the sentence is true.
    legit = frame[~frame["is_fraud"]]
    result = evaluate(legit, scores[~frame["is_fraud"].to_numpy()], thresholds, cfg)
    assert "(no fraud in this period)" in result.markdown()
