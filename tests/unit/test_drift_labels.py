"""Label-based performance on matured labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from drift.label_metrics import (
    LabelPerformance,
    ap_upper_bound,
    label_performance,
    matured_period,
    weighted_ap,
)

AS_OF = datetime(2026, 7, 20, tzinfo=UTC)


def _decisions() -> pd.DataFrame:
    base = AS_OF - timedelta(days=10)  # matured (maturity 7 days)
    rows = []
    for i in range(100):
        rows.append(
            {
                "transaction_id": f"t{i}",
                "event_time": base + timedelta(minutes=i),
                "score": 1.0 - i / 100.0,  # t0 scores highest
                "model_version": "3",
            }
        )
    rows.append(  # too recent: not matured
        {"transaction_id": "fresh", "event_time": AS_OF, "score": 0.99, "model_version": "3"}
    )
    rows.append(  # another model version
        {"transaction_id": "old", "event_time": base, "score": 0.99, "model_version": "2"}
    )
    return pd.DataFrame(rows)


def _labels(ids: list[str], when: datetime) -> pd.DataFrame:
    return pd.DataFrame({"transaction_id": ids, "is_fraud": True, "label_time": when})


def test_perfect_ranking_and_budget() -> None:
    labels = _labels(["t0", "t1"], AS_OF - timedelta(days=1))
    perf = label_performance(
        _decisions(), labels, AS_OF, maturity_days=7, days=7, alert_budget=0.02, min_frauds=2
    )
    assert perf.model_version == "3" and perf.rows == 100 and perf.frauds == 2
    assert perf.average_precision == pytest.approx(1.0)
    assert perf.precision_at_budget == pytest.approx(1.0)  # top 2 of 100
    assert perf.recall_at_budget == pytest.approx(1.0)
    assert perf.sufficient


def test_labels_after_as_of_are_unknown_and_bad_ranking_shows() -> None:
    labels = pd.concat(
        [
            _labels(["t98", "t99"], AS_OF - timedelta(days=1)),
            _labels(["t0"], AS_OF + timedelta(days=1)),  # not known yet
        ]
    )
    perf = label_performance(
        _decisions(), labels, AS_OF, maturity_days=7, days=7, alert_budget=0.02, min_frauds=5
    )
    assert perf.frauds == 2 and not perf.sufficient
    assert perf.average_precision < 0.05 and perf.precision_at_budget == 0.0


def test_no_frauds_gives_nan() -> None:
    perf = label_performance(
        _decisions(),
        _labels([], AS_OF),
        AS_OF,
        maturity_days=7,
        days=7,
        alert_budget=0.01,
        min_frauds=1,
    )
    assert perf.frauds == 0 and perf.average_precision != perf.average_precision


def test_matured_period() -> None:
    start, end = matured_period(AS_OF, 7, 3)
    assert end == AS_OF - timedelta(days=7) and start == end - timedelta(days=3)


def _ranking(frauds: int, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.zeros(rows, dtype=bool)
    y[:frauds] = True
    scores = np.round(rng.random(rows) + 0.8 * y, 2)  # rounded: many tied scores
    return y, scores


def test_weighted_ap_with_unit_weights_is_sklearns_ap() -> None:
    y, scores = _ranking(30, 2000, seed=1)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    last = ends[np.searchsorted(ends, np.arange(y.size))]
    ours = weighted_ap(y[order], np.ones(y.size), last)
    assert ours == pytest.approx(average_precision_score(y, scores), abs=1e-12)


def test_ap_upper_bound_is_above_ap_and_tightens_with_more_frauds() -> None:
    few_y, few_s = _ranking(20, 4000, seed=2)
    many_y, many_s = _ranking(400, 80000, seed=2)
    few_ap, many_ap = average_precision_score(few_y, few_s), average_precision_score(many_y, many_s)
    few_up = ap_upper_bound(few_y, few_s, 0.95)
    many_up = ap_upper_bound(many_y, many_s, 0.95)
    assert few_up > few_ap and many_up > many_ap
    assert few_up - few_ap > 2 * (many_up - many_ap)
    assert ap_upper_bound(few_y, few_s, 0.95) == few_up  # deterministic
    assert ap_upper_bound(few_y, few_s, 0.5) < few_up


def test_label_performance_carries_the_bound_only_when_asked() -> None:
    labels = _labels(["t0", "t5", "t40"], AS_OF - timedelta(days=1))

    def judge(confidence: float) -> LabelPerformance:
        return label_performance(
            _decisions(),
            labels,
            AS_OF,
            maturity_days=7,
            days=7,
            alert_budget=0.02,
            min_frauds=2,
            confidence=confidence,
        )

    plain, bounded = judge(0.0), judge(0.9)
    assert plain.ap_upper is None and plain.ap_bound == plain.average_precision
    assert bounded.ap_upper is not None and bounded.ap_bound == bounded.ap_upper
    assert bounded.ap_upper >= bounded.average_precision == plain.average_precision


def test_the_newest_known_label_of_a_transaction_wins() -> None:
    day = AS_OF - timedelta(days=3)
    labels = pd.concat(
        [
            _labels(["t0", "t1", "t2"], day - timedelta(days=1)),  # chargebacks
            _labels(["t0"], day).assign(is_fraud=False),  # an analyst clears t0
            _labels(["t2"], AS_OF + timedelta(days=1)).assign(is_fraud=False),  # not known yet
            _labels(["t3"], day).assign(is_fraud=False),  # cleared, then confirmed
            _labels(["t3"], day + timedelta(days=1)),
        ]
    )
    perf = label_performance(
        _decisions(), labels, AS_OF, maturity_days=7, days=7, alert_budget=0.03, min_frauds=1
    )
    assert perf.frauds == 3  # t1, t2, t3
    assert perf.precision_at_budget == pytest.approx(2 / 3)  # top 3: t0 (cleared), t1, t2


@pytest.mark.parametrize(("days", "whole"), [(3, True), (5, False)])
def test_a_version_that_served_part_of_the_period_is_flagged(days: int, whole: bool) -> None:
    # the decisions start 10 days before as_of: on the first day of a 3-day matured
    # period (maturity 7), two days into a 5-day one (promoted, or serving began, then)
    labels = _labels(["t0", "t1"], AS_OF - timedelta(days=1))
    perf = label_performance(
        _decisions(), labels, AS_OF, maturity_days=7, days=days, alert_budget=0.02, min_frauds=2
    )
    assert perf.sufficient and perf.whole_period == whole
