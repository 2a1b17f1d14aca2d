"""Labels: every label is kept; the latest one of a transaction wins.

"Latest" is the greatest ``label_time``; two labels with the same time are
ordered by arrival (``label_id``), so an analyst's correction entered after a
chargeback with the same timestamp still wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import distinct_on, insert

from fraudlens.errors import ValidationError
from fraudlens.records.tables import labels

SOURCES = frozenset({"chargeback", "customer_report", "analyst", "api", "import"})


@dataclass(frozen=True)
class LabelRecord:
    """One label as stored."""

    transaction_id: str
    is_fraud: bool
    label_time: datetime
    source: str
    author: str = ""


def _check(label: LabelRecord) -> None:
    if not label.transaction_id:
        raise ValidationError("transaction_id", "is empty")
    if label.source not in SOURCES:
        raise ValidationError("source", f"{label.source!r} is not one of {sorted(SOURCES)}")
    if label.label_time.tzinfo is None:
        raise ValidationError("label_time", "must carry a timezone")


def add_labels(conn: Connection, records: Sequence[LabelRecord]) -> int:
    """Store labels (history is kept). Runs in the caller's transaction.

    A label identical to a stored one (same transaction, time, source and
    verdict: a redelivery) is not stored again.

    Returns:
        How many were new.

    Raises:
        ValidationError: a label has no transaction id, an unknown source or a
            naive time (nothing is stored then).
    """
    for label in records:
        _check(label)
    if not records:
        return 0
    stmt = (
        insert(labels)
        .on_conflict_do_nothing(
            index_elements=["transaction_id", "label_time", "source", "is_fraud"]
        )
        .returning(labels.c.label_id)
    )
    done = conn.execute(
        stmt,
        [
            {
                "transaction_id": r.transaction_id,
                "is_fraud": r.is_fraud,
                "label_time": r.label_time,
                "source": r.source,
                "author": r.author,
            }
            for r in records
        ],
    )
    return len(done.all())


def latest_labels(
    conn: Connection, transaction_ids: Iterable[str] | None = None
) -> dict[str, LabelRecord]:
    """The winning label of each transaction (of ``transaction_ids``, or of all)."""
    stmt = (
        select(labels)
        .ext(distinct_on(labels.c.transaction_id))
        .order_by(labels.c.transaction_id, labels.c.label_time.desc(), labels.c.label_id.desc())
    )
    if transaction_ids is not None:
        wanted = list(transaction_ids)
        if not wanted:
            return {}
        stmt = stmt.where(labels.c.transaction_id.in_(wanted))
    return {
        row["transaction_id"]: LabelRecord(
            transaction_id=row["transaction_id"],
            is_fraud=row["is_fraud"],
            label_time=row["label_time"],
            source=row["source"],
            author=row["author"],
        )
        for row in conn.execute(stmt).mappings()
    }
