"""Summaries of scored decisions for the demo, reports and monitoring.

Works on the decision log (``read_log``) or any frame with the same columns:
``transaction_id``, ``decision``, ``degraded``, ``latency_ms``, ``reasons``
(JSON), and optionally the transactions' ``is_fraud`` and ``amount``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.errors import FeatureStoreError

FLAGGED = ("review", "decline")


def summarize_decisions(
    decisions: pd.DataFrame, transactions: pd.DataFrame | None = None, top: int = 5
) -> dict[str, Any]:
    """Decision counts, latency percentiles, frequent reasons and (with labels) fraud caught.

    Args:
        decisions: one row per decision (duplicates by ``decision_id`` are dropped).
        transactions: ``transaction_id``, ``is_fraud`` and ``amount``, to count
            the fraud caught (flagged for review or declined).
        top: how many reason codes to list.
    """
    if decisions.empty:
        return {"decisions": 0}
    frame = decisions.drop_duplicates("decision_id") if "decision_id" in decisions else decisions
    latency = frame["latency_ms"].to_numpy(dtype=float)
    out: dict[str, Any] = {
        "decisions": len(frame),
        "by_decision": {k: int(v) for k, v in frame["decision"].value_counts().items()},
        "degraded": int(frame["degraded"].sum()),
        "latency_ms": {
            "p50": round(float(np.percentile(latency, 50)), 2),
            "p99": round(float(np.percentile(latency, 99)), 2),
        },
    }
    flagged = frame[frame["decision"].isin(FLAGGED)]
    codes: Counter[str] = Counter()
    for raw in flagged.get("reasons", pd.Series(dtype=object)):
        reasons = json.loads(raw) if isinstance(raw, str) else raw
        codes.update(r["code"] for r in reasons)
    out["top_reasons"] = dict(codes.most_common(top))
    if transactions is not None and "is_fraud" in transactions:
        joined = frame.merge(
            transactions[["transaction_id", "is_fraud", "amount"]], on="transaction_id"
        )
        fraud = joined[joined["is_fraud"].astype(bool)]
        caught = fraud[fraud["decision"].isin(FLAGGED)]
        legit = joined[~joined["is_fraud"].astype(bool)]
        out["fraud"] = {
            "transactions": len(fraud),
            "caught": len(caught),
            "recall": round(len(caught) / len(fraud), 4) if len(fraud) else None,
            "amount": round(float(fraud["amount"].sum()), 2),
            "amount_caught": round(float(caught["amount"].sum()), 2),
            "legit_flagged": int(legit["decision"].isin(FLAGGED).sum()),
        }
    return out


def degraded_by_cause(answers: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Count degraded answers by cause, from the answers themselves.

    Args:
        answers: ``/v1/score`` responses (or any mapping with ``degraded`` and,
            optionally, ``degraded_cause``).

    Returns:
        cause -> count (``unknown`` when an answer gives no cause); empty when
        no answer was degraded.
    """
    counts: Counter[str] = Counter()
    for answer in answers:
        if answer.get("degraded"):
            counts[str(answer.get("degraded_cause") or "unknown")] += 1
    return dict(counts.most_common())


def require_not_degraded(counts: Mapping[str, int], where: str) -> None:
    """Fail when a healthy system answered anything degraded.

    Raises:
        FeatureStoreError: names how many answers were degraded and why.
    """
    if counts:
        detail = ", ".join(f"{n} {cause.replace('_', ' ')}" for cause, n in counts.items())
        raise FeatureStoreError(
            f"{where}: {sum(counts.values())} answers were degraded with every service up "
            f"({detail}); they should all have been scored with stored features"
        )
