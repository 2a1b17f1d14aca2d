"""How late fraud labels arrive, and the matured-window delay that follows from it.

The matured terminal features count frauds and transactions in the UTC days
``[today - delay - w, today - delay)``. A transaction of the newest day in
such a window is at least ``delay`` whole days old when it is scored (it
happened before midnight ``delay`` days ago), so every fraud label that takes
at most ``delay`` days has arrived for it, and more of them for the older
days of the window.

The recommended ``features.matured_delay_days`` is the smallest whole number
of days ``d`` by which at least ``coverage`` (default one half) of the fraud
labels have arrived: from then on the newest matured day already holds at
least half of its eventual frauds, so its fraud rate is no longer mostly
unlabelled transactions, while the window stays as recent as that allows (a
larger delay sees a compromised terminal later). The Fraud Detection
Handbook's 7 days and the default simulation (median label delay 6.7 days)
give the same default.

A label counts as it counts for the features (``state.label_applies``): the
first fraud label of a transaction, after the transaction and within
``feast.max_label_delay_days``; other fraud labels are reported as ignored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.errors import DataError
from fraudlens.features.state import MAX_MATURED_DELAY_DAYS, US_PER_DAY

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
ARRIVED_DAYS = (1, 2, 3, 5, 7, 10, 14, 21, 30)


@dataclass(frozen=True)
class LabelDelayReport:
    """Fraud-label delays of a history and the recommended matured delay.

    Attributes:
        folder: the history read (``transactions.parquet`` + ``labels.parquet``).
        fraud_labels: fraud transactions whose first fraud label counts.
        ignored_labels: fraud labels that do not count (before their
            transaction, later than the maximum delay, unknown transaction).
        quantiles_days: label delay quantiles in days ("p50": median...).
        arrived_within_days: share of the labels arrived within d days, by d.
        coverage: the share the recommendation asks for.
        recommended_days: ``recommend_delay`` of the delays.
    """

    folder: str
    fraud_labels: int
    ignored_labels: int
    quantiles_days: dict[str, float]
    arrived_within_days: dict[str, float]
    coverage: float
    recommended_days: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields, plus the setting to export."""
        return asdict(self) | {
            "setting": f"FRAUDLENS_FEATURES__MATURED_DELAY_DAYS={self.recommended_days}"
        }


def recommend_delay(
    delays_days: np.ndarray, coverage: float = 0.5, max_days: int = MAX_MATURED_DELAY_DAYS
) -> int:
    """The smallest whole number of days within which ``coverage`` of the labels arrived.

    Capped at ``max_days`` (the setting's bound).

    Raises:
        DataError: no delays, or a coverage outside (0, 1].
    """
    if not 0.0 < coverage <= 1.0:
        raise DataError(f"coverage must be in (0, 1], got {coverage}")
    if len(delays_days) == 0:
        raise DataError("no fraud labels to measure: keep features.matured_delay_days")
    ordered = np.sort(np.asarray(delays_days, dtype=np.float64))
    # The k-th smallest delay (k = ceil(coverage * n)) is the first one at which
    # at least that share has arrived; a day count must be a whole number at or above it.
    k = max(1, math.ceil(coverage * len(ordered) - 1e-9))
    return min(max_days, math.ceil(float(ordered[k - 1])))


def label_delays(
    transactions: pd.DataFrame, labels: pd.DataFrame, max_label_delay_days: int
) -> tuple[np.ndarray, int]:
    """The delay in days of every fraud label the features count, and the ignored count.

    Args:
        transactions: ``transaction_id`` and ``event_time``.
        labels: ``transaction_id``, ``is_fraud`` and ``label_time``.
        max_label_delay_days: ``feast.max_label_delay_days``.
    """
    fraud = labels.loc[labels["is_fraud"].astype(bool), ["transaction_id", "label_time"]]
    label_us = _micros(fraud["label_time"])
    frame = pd.DataFrame({"transaction_id": fraud["transaction_id"].astype(str), "l": label_us})
    times = pd.DataFrame(
        {
            "transaction_id": transactions["transaction_id"].astype(str),
            "t": _micros(transactions["event_time"]),
        }
    ).drop_duplicates("transaction_id")
    joined = frame.merge(times, on="transaction_id", how="left")
    lag = joined["l"] - joined["t"]
    counts = joined["t"].notna() & (lag > 0) & (lag <= max_label_delay_days * US_PER_DAY)
    first = joined[counts].groupby("transaction_id")["l"].min()  # the first label counts
    txn_us = times.set_index("transaction_id").loc[first.index, "t"]
    delays = (first.to_numpy() - txn_us.to_numpy()) / US_PER_DAY
    return delays.astype(np.float64), int(len(joined) - len(first))


def _micros(values: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")
    out: np.ndarray = stamps.astype("int64").to_numpy()
    return out


def label_delay_report(
    folder: Path, max_label_delay_days: int, coverage: float = 0.5
) -> LabelDelayReport:
    """Read a history folder's labels and report their delays and the recommended setting.

    Raises:
        DataError: a file or column is missing, or there is no fraud label.
    """
    try:
        transactions = pd.read_parquet(
            folder / "transactions.parquet", columns=["transaction_id", "event_time"]
        )
        labels = pd.read_parquet(
            folder / "labels.parquet", columns=["transaction_id", "is_fraud", "label_time"]
        )
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read the labels of {folder}: {exc}") from exc
    delays, ignored = label_delays(transactions, labels, max_label_delay_days)
    recommended = recommend_delay(delays, coverage)
    quantiles = {f"p{round(q * 100)}": round(float(np.quantile(delays, q)), 3) for q in QUANTILES}
    arrived = {str(d): round(float(np.mean(delays <= d)), 4) for d in ARRIVED_DAYS}
    return LabelDelayReport(
        folder=str(folder),
        fraud_labels=len(delays),
        ignored_labels=ignored,
        quantiles_days=quantiles,
        arrived_within_days=arrived,
        coverage=coverage,
        recommended_days=recommended,
    )
