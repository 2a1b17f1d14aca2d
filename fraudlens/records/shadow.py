"""Shadow scores: the challenger's score of each transaction, beside the champion's.

One row per (transaction id, challenger version), written idempotently by the
records sink from the shadow-scores topic (``fraudlens.scoring.shadow_topic``),
and read back for the champion/challenger comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert

from fraudlens.records.tables import shadow_scores

COLUMNS = tuple(c.name for c in shadow_scores.columns if c.name != "created_at")
"""The columns of a shadow score: those of a ``ShadowEvent`` without its schema version."""


def shadow_row(event: Any) -> dict[str, Any]:
    """A ``shadow_scores`` row from a ``ShadowEvent`` (a non-finite champion score is null)."""
    row = {name: getattr(event, name) for name in COLUMNS}
    score = row["champion_score"]
    if score is not None and not math.isfinite(score):
        row["champion_score"] = None
    return row


def upsert_shadow_scores(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert shadow score rows; one already stored (same transaction and challenger
    version) is left as it is, the first of a batch as the first of two batches.
    Runs in the caller's transaction.

    Returns:
        How many rows were new.
    """
    if not rows:
        return 0
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        first.setdefault((row["transaction_id"], row["challenger_version"]), row)
    stmt = (
        insert(shadow_scores)
        .on_conflict_do_nothing(index_elements=["transaction_id", "challenger_version"])
        .returning(shadow_scores.c.transaction_id)
    )
    return len(conn.execute(stmt, list(first.values())).all())


def read_shadow_scores(
    conn: Connection,
    start: datetime | None = None,
    end: datetime | None = None,
    challenger_version: str | None = None,
) -> pd.DataFrame:
    """Shadow scores with ``start <= event_time < end``, oldest first, in the shadow
    log's columns (``read_log`` of ``DATA_DIR/shadow`` gives the same frame)."""
    stmt = select(*(shadow_scores.c[name] for name in COLUMNS))
    if start is not None:
        stmt = stmt.where(shadow_scores.c.event_time >= start)
    if end is not None:
        stmt = stmt.where(shadow_scores.c.event_time < end)
    if challenger_version is not None:
        stmt = stmt.where(shadow_scores.c.challenger_version == challenger_version)
    stmt = stmt.order_by(shadow_scores.c.event_time, shadow_scores.c.transaction_id)
    return pd.DataFrame(conn.execute(stmt).mappings().all(), columns=list(COLUMNS))
