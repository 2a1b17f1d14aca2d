"""Decisions: one row per decision id, written idempotently."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from fraudlens.records.tables import decisions


def decision_row(event: Any) -> dict[str, Any]:
    """A ``decisions`` row from a ``DecisionEvent`` (or anything with its fields).

    Rule hits are the codes of the ``rule`` reasons. Non-finite numbers in the
    reasons become null, as on the topic (JSONB has no NaN); so do those of
    the feature vector, present on sampled decisions only.
    """
    reasons = [json.loads(r.model_dump_json()) for r in event.reasons]
    features = getattr(event, "features", None)
    return {
        "decision_id": event.decision_id,
        "transaction_id": event.transaction_id,
        "event_time": event.event_time,
        "card_token": event.card_token,
        "score": event.score,
        "decision": event.decision,
        "reasons": reasons,
        "rule_hits": [r["code"] for r in reasons if r.get("kind") == "rule"],
        "model_version": event.model_version,
        "degraded": event.degraded,
        "source": event.source,
        "scored_at": event.scored_at,
        "transaction": getattr(event, "transaction", None),
        "features": _finite(features) if features is not None else None,
    }


def _finite(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: v if v is not None and math.isfinite(v) else None for k, v in values.items()}


def upsert_decisions(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert decision rows; a decision id already stored is left as it is.

    A decision is immutable once made, so a redelivered one (at-least-once
    transport), even one scored again by another model version (same id: one
    decision per transaction), changes nothing: the first one stored stays,
    within a batch as across batches. Runs in the caller's transaction.

    Returns:
        How many rows were new.
    """
    if not rows:
        return 0
    first: dict[str, dict[str, Any]] = {}
    for row in rows:  # the first of a batch, as the first of two batches, stays
        first.setdefault(row["decision_id"], row)
    unique = list(first.values())
    # One cached statement run as "insertmanyvalues" batches (no compile per batch size).
    stmt = (
        insert(decisions)
        .on_conflict_do_nothing(index_elements=["decision_id"])
        .returning(decisions.c.decision_id)
    )
    return len(conn.execute(stmt, unique).all())


def count_decisions(conn: Connection) -> int:
    """How many decisions are stored."""
    return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())


def decisions_for_card(
    conn: Connection, card_token: str, since: datetime | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """A card's decisions, newest first (the analyst view of a card)."""
    stmt = select(decisions).where(decisions.c.card_token == card_token)
    if since is not None:
        stmt = stmt.where(decisions.c.event_time >= since)
    stmt = stmt.order_by(decisions.c.event_time.desc()).limit(limit)
    return [dict(row) for row in conn.execute(stmt).mappings()]


def decision_ids(conn: Connection, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` are stored."""
    wanted = list(ids)
    if not wanted:
        return set()
    stmt = select(decisions.c.decision_id).where(decisions.c.decision_id.in_(wanted))
    return set(conn.execute(stmt).scalars())
