"""Erasure and retention in the records database (decisions, labels, cases, shadow scores).

A person's rows are found by card token (decisions, cases) and transaction id
(decisions, labels, shadow scores); the cases of those decisions and their
events, and the challenger's scores of their transactions, go with them. Retention deletes rows older than a cutoff, table by table; a decision
an open case still points to is kept until the case is closed and pruned.
Each function runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, delete, or_, select

from fraudlens.records.tables import case_events, cases, decisions, labels, shadow_scores

PRUNED = {
    "decisions": "event_time",
    "labels": "label_time",
    "cases": "closed_at",
    "shadow_scores": "event_time",
}
"""Tables retention prunes, and the time column that ages their rows."""


def linked_transactions(conn: Connection, card_tokens: Collection[str]) -> set[str]:
    """Transaction ids of the decisions on ``card_tokens``."""
    if not card_tokens:
        return set()
    stmt = select(decisions.c.transaction_id).where(decisions.c.card_token.in_(card_tokens))
    return set(conn.execute(stmt).scalars())


def erase_subject(
    conn: Connection, card_tokens: Collection[str], transaction_ids: Collection[str]
) -> dict[str, int]:
    """Delete every row of these cards and transactions; returns rows deleted per table."""
    tokens, ids = list(card_tokens), list(transaction_ids)
    theirs = select(decisions.c.decision_id).where(
        or_(decisions.c.card_token.in_(tokens), decisions.c.transaction_id.in_(ids))
    )
    their_cases = select(cases.c.case_id).where(
        or_(cases.c.card_token.in_(tokens), cases.c.decision_id.in_(theirs))
    )
    their_txns = select(decisions.c.transaction_id).where(decisions.c.decision_id.in_(theirs))
    done = {
        "shadow_scores": conn.execute(
            delete(shadow_scores).where(
                or_(
                    shadow_scores.c.transaction_id.in_(ids),
                    shadow_scores.c.transaction_id.in_(their_txns),
                )
            )
        ).rowcount,
        "case_events": conn.execute(
            delete(case_events).where(case_events.c.case_id.in_(their_cases))
        ).rowcount,
        "cases": conn.execute(delete(cases).where(cases.c.case_id.in_(their_cases))).rowcount,
        "labels": conn.execute(delete(labels).where(labels.c.transaction_id.in_(ids))).rowcount,
    }
    done["decisions"] = conn.execute(
        delete(decisions).where(decisions.c.decision_id.in_(theirs))
    ).rowcount
    return done


def subject_rows(
    conn: Connection, card_tokens: Collection[str], transaction_ids: Collection[str]
) -> int:
    """How many decision, label, case and shadow score rows still hold these cards or
    transactions."""
    tokens, ids = list(card_tokens), list(transaction_ids)
    queries = (
        select(decisions.c.decision_id).where(
            or_(decisions.c.card_token.in_(tokens), decisions.c.transaction_id.in_(ids))
        ),
        select(labels.c.label_id).where(labels.c.transaction_id.in_(ids)),
        select(cases.c.case_id).where(cases.c.card_token.in_(tokens)),
        select(shadow_scores.c.transaction_id).where(shadow_scores.c.transaction_id.in_(ids)),
    )
    return sum(len(conn.execute(q).all()) for q in queries)


def prune(conn: Connection, table: str, cutoff: datetime) -> int:
    """Delete the rows of ``table`` (one of ``PRUNED``) older than ``cutoff``."""
    if table == "cases":  # closed cases only, with their events
        old = select(cases.c.case_id).where(cases.c.closed_at < cutoff)
        conn.execute(delete(case_events).where(case_events.c.case_id.in_(old)))
        return conn.execute(delete(cases).where(cases.c.closed_at < cutoff)).rowcount
    if table == "labels":
        return conn.execute(delete(labels).where(labels.c.label_time < cutoff)).rowcount
    if table == "shadow_scores":
        expired = delete(shadow_scores).where(shadow_scores.c.event_time < cutoff)
        return conn.execute(expired).rowcount
    if table == "decisions":
        in_case = select(cases.c.decision_id).where(cases.c.decision_id.is_not(None))
        stmt = delete(decisions).where(
            decisions.c.event_time < cutoff, decisions.c.decision_id.not_in(in_case)
        )
        return conn.execute(stmt).rowcount
    raise ValueError(f"retention does not prune table {table!r} (one of {sorted(PRUNED)})")
