"""Label-based performance of the served model on labels that have matured.

Fraud labels arrive days to weeks after the transaction. A transaction counts
once it is ``training.label_delay_days`` old: by then most frauds are known,
and the ones still unlabelled are taken as legitimate (what the bank knows at
that time). Metrics: average precision and precision / recall at the alert
budget (the top ``training.alert_budget`` share of scores, what analysts can
review). A one-sided bootstrap bound on AP tells a real drop from the noise of
a few dozen matured frauds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from drift.metrics import DriftMetrics
from drift.sources import DecisionSource, ParquetSource
from fraudlens.errors import DataError
from fraudlens.settings import Settings
from training.labels import latest_verdicts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelPerformance:
    """Performance of one model version on one matured period."""

    model_version: str
    as_of: datetime
    start: datetime
    end: datetime
    rows: int
    frauds: int
    average_precision: float
    precision_at_budget: float
    recall_at_budget: float
    alert_budget: float
    sufficient: bool  # enough matured frauds to judge
    ap_upper: float | None = None  # upper confidence bound of AP (None: not computed)
    # the version served from the period's first day (False: promoted, or serving began,
    # later in the period): only such a period sets the version's baseline
    whole_period: bool = True

    @property
    def ap_bound(self) -> float:
        """AP as high as the data allows: the bound when computed, else AP itself."""
        return self.average_precision if self.ap_upper is None else self.ap_upper


def matured_period(as_of: datetime, maturity_days: int, days: int) -> tuple[datetime, datetime]:
    """Event-time range ``[start, end)`` whose labels have matured by ``as_of``."""
    end = as_of - timedelta(days=maturity_days)
    return end - timedelta(days=days), end


def label_performance(
    decisions: pd.DataFrame,
    labels: pd.DataFrame,
    as_of: datetime,
    *,
    maturity_days: int,
    days: int,
    alert_budget: float,
    min_frauds: int,
    model_version: str | None = None,
    confidence: float = 0.0,
) -> LabelPerformance:
    """Compute matured-label metrics from decisions and labels.

    Args:
        decisions: ``transaction_id``, ``event_time``, ``score``, ``model_version``.
        labels: ``transaction_id``, ``is_fraud``, ``label_time`` (several per
            transaction allowed: the newest known by ``as_of`` wins; at equal
            times the later row).
        as_of: evaluation time; labels after it are unknown.
        maturity_days: age a transaction needs before it is judged.
        days: length of the matured period.
        alert_budget: share of transactions analysts review.
        min_frauds: fewer matured frauds give ``sufficient=False``.
        model_version: version to judge (default: the most frequent one).
        confidence: level of the AP upper bound (0: none; none either
            without enough matured frauds to judge).

    Raises:
        DataError: a required column is missing.
    """
    _require(decisions, ("transaction_id", "event_time", "score"), "decisions")
    _require(labels, ("transaction_id", "is_fraud", "label_time"), "labels")
    start, end = matured_period(as_of, maturity_days, days)
    times = pd.to_datetime(decisions["event_time"], utc=True)
    rows = decisions.loc[(times >= start) & (times < end) & decisions["score"].notna()]
    if "model_version" in rows.columns and len(rows):
        version = model_version or str(rows["model_version"].astype(str).mode().iloc[0])
        rows = rows.loc[rows["model_version"].astype(str) == version]
    else:
        version = model_version or ""
    rows = rows.drop_duplicates("transaction_id", keep="last")
    first = pd.to_datetime(rows["event_time"], utc=True).min() if len(rows) else None
    whole_period = first is not None and first < start + timedelta(days=1)
    known = labels.loc[pd.to_datetime(labels["label_time"], utc=True) <= as_of]
    # The newest label known by as_of wins: an analyst's "legitimate" clears a chargeback.
    verdicts = latest_verdicts(known)
    fraud_ids = set(verdicts.loc[verdicts["is_fraud"], "transaction_id"])
    y = rows["transaction_id"].isin(fraud_ids).to_numpy(dtype=np.int64)
    scores = rows["score"].to_numpy(dtype=np.float64)
    frauds = int(y.sum())
    ap, precision, recall = _metrics(y, scores, alert_budget)
    sufficient = frauds >= min_frauds
    upper = (
        ap_upper_bound(y, scores, confidence) if confidence > 0 and sufficient and frauds else None
    )
    return LabelPerformance(
        model_version=version,
        as_of=as_of,
        start=start,
        end=end,
        rows=len(rows),
        frauds=frauds,
        average_precision=ap,
        precision_at_budget=precision,
        recall_at_budget=recall,
        alert_budget=alert_budget,
        sufficient=sufficient,
        ap_upper=upper,
        whole_period=whole_period,
    )


def _metrics(y: np.ndarray, scores: np.ndarray, budget: float) -> tuple[float, float, float]:
    if y.size == 0 or y.sum() == 0:
        return math.nan, math.nan, math.nan
    from sklearn.metrics import average_precision_score  # slow import, only when needed

    ap = float(average_precision_score(y, scores))
    k = max(1, math.ceil(budget * y.size))
    top = np.argsort(-scores, kind="stable")[:k]
    hits = float(y[top].sum())
    return ap, hits / k, hits / float(y.sum())


def ap_upper_bound(
    y: np.ndarray, scores: np.ndarray, confidence: float, resamples: int = 200, seed: int = 0
) -> float:
    """One-sided upper confidence bound of average precision.

    A stratified bootstrap over transactions (frauds and legitimate ones are
    resampled apart, so each resample keeps the fraud count). Each resample is
    a weight per row on one fixed ranking, and AP is sklearn's definition
    (tied scores share one threshold), so with unit weights it equals
    ``average_precision_score``. Deterministic for a given ``seed``.
    """
    order = np.argsort(-scores, kind="stable")
    y, ranked = y[order].astype(bool), scores[order]
    ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])  # last row of each score
    last = ends[np.searchsorted(ends, np.arange(y.size))]
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    rng = np.random.default_rng(seed)
    aps = np.empty(resamples)
    for b in range(resamples):
        w = np.bincount(rng.choice(pos, pos.size), minlength=y.size) + np.bincount(
            rng.choice(neg, neg.size), minlength=y.size
        )
        aps[b] = weighted_ap(y, w, last)
    return float(np.quantile(aps, confidence))


def weighted_ap(y: np.ndarray, w: np.ndarray, last: np.ndarray) -> float:
    """AP of rows ranked best first, with row weights; ``last[i]``: end of row i's tie."""
    hits = w * y
    tp, seen = np.cumsum(hits)[last], np.cumsum(w)[last]
    keep = hits > 0
    return float(np.sum(hits[keep] * tp[keep] / seen[keep]) / hits.sum())


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what} lack columns {missing}")


def evaluate_labels(
    settings: Settings,
    as_of: datetime | None = None,
    *,
    model_version: str | None = None,
    labels: pd.DataFrame | None = None,
    metrics: DriftMetrics | None = None,
    source: DecisionSource | None = None,
) -> LabelPerformance:
    """Matured-label performance from decisions and labels, exported.

    Args:
        settings: FraudLens settings (``training.label_delay_days``,
            ``training.alert_budget``, ``drift.performance_days``).
        as_of: evaluation time (default: now).
        model_version: version to judge (default: the most frequent one).
        labels: labels to use instead of the source's.
        metrics: where to export the gauges.
        source: where decisions and labels are read (default: the Parquet
            decision log and label store).
    """
    as_of = as_of or datetime.now(UTC)
    source = source or ParquetSource(settings)
    start, end = matured_period(
        as_of, settings.training.label_delay_days, settings.drift.performance_days
    )
    decisions = source.decisions(start, end)
    if decisions.empty:
        decisions = pd.DataFrame(columns=["transaction_id", "event_time", "score"])
    if labels is None:
        labels = source.labels(start, end, as_of)
    perf = label_performance(
        decisions,
        labels,
        as_of,
        maturity_days=settings.training.label_delay_days,
        days=settings.drift.performance_days,
        alert_budget=settings.training.alert_budget,
        min_frauds=settings.drift.min_labelled_frauds,
        model_version=model_version,
        confidence=settings.drift.ap_confidence,
    )
    if metrics is not None:
        export_performance(perf, metrics)
    logger.info(
        "matured-label AP of model %s: %.4f (%d frauds in %d rows)",
        perf.model_version,
        perf.average_precision,
        perf.frauds,
        perf.rows,
    )
    return perf


def export_performance(perf: LabelPerformance, metrics: DriftMetrics) -> None:
    """Set the label-based gauges (NaN metrics are not exported)."""
    metrics.labelled_rows.set(perf.rows)
    metrics.labelled_frauds.set(perf.frauds)
    if not perf.sufficient:
        return
    version = perf.model_version
    metrics.average_precision.labels(model_version=version).set(perf.average_precision)
    metrics.average_precision_upper.labels(model_version=version).set(perf.ap_bound)
    metrics.precision_at_budget.labels(model_version=version).set(perf.precision_at_budget)
    metrics.recall_at_budget.labels(model_version=version).set(perf.recall_at_budget)
