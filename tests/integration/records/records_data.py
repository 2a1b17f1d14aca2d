"""Decision rows of ``drift.synthetic`` as the records sink stores them."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pandas as pd

from fraudlens.scoring.feature_sample import feature_sampled


def decision_records(
    rows: pd.DataFrame, features: Collection[str] = (), sample_rate: float = 1.0
) -> list[dict[str, Any]]:
    """``decisions`` table rows (card tokens, decisions and sources filled in when absent).

    Args:
        rows: ``drift.synthetic`` decision rows.
        features: columns stored as the feature vector of the sampled decisions.
        sample_rate: share of decisions sampled (by ``feature_sampled``, as the producers).
    """
    out = []
    for i, r in enumerate(rows.to_dict("records")):
        when = pd.Timestamp(r["event_time"]).floor("us").to_pydatetime()
        decision_id = r.get("decision_id", f"dec-{r['transaction_id']}")
        sampled = bool(features) and feature_sampled(decision_id, sample_rate)
        out.append(
            {
                "decision_id": decision_id,
                "transaction_id": r["transaction_id"],
                "event_time": when,
                "card_token": r.get("card_token", f"tok_{i % 50}"),
                "score": None if pd.isna(r["score"]) else float(r["score"]),
                "decision": r.get("decision", "approve"),
                "reasons": [],
                "rule_hits": [],
                "model_version": r["model_version"],
                "degraded": bool(r["degraded"]),
                "source": r.get("source", "api"),
                "scored_at": when,
                "features": {c: float(r[c]) for c in features} if sampled else None,
            }
        )
    return out


def decision_rows_per_transaction(engine: Any, prefix: str) -> dict[str, int]:
    """Decision rows stored for each transaction whose id starts with ``prefix``."""
    from sqlalchemy import func, select

    from fraudlens.records.tables import decisions

    with engine.connect() as conn:
        rows = conn.execute(
            select(decisions.c.transaction_id, func.count())
            .where(decisions.c.transaction_id.like(f"{prefix}%"))
            .group_by(decisions.c.transaction_id)
        ).all()
    return {tid: int(n) for tid, n in rows}
