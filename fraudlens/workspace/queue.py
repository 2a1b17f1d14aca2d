"""The review queue and a case's facts, read from PostgreSQL (cases joined with decisions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Float, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from fraudlens.errors import ValidationError
from fraudlens.records.labels import latest_labels
from fraudlens.records.tables import case_events, cases, decisions, labels

SORTS: tuple[str, ...] = ("score", "amount", "age")
STATUS_VIEWS: tuple[str, ...] = ("open", "escalated", "closed", "all")

_AMOUNT = cast(decisions.c.transaction["amount"].astext, Float)


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows and in which order.

    Attributes:
        status: ``open`` (open and escalated), ``escalated``, ``closed`` or ``all``.
        min_score: cases scored at least this.
        min_amount: cases whose amount is at least this.
        rule: cases where this rule hit (its code).
        model_version: cases decided by this model version.
        min_age_minutes: cases opened at least this many minutes ago (waiting this long).
        max_age_minutes: cases opened at most this many minutes ago.
        sort: ``score`` (highest first), ``amount`` (largest first), ``age`` (oldest first).
        grouped: one row per card group (the group's first case in this order).
    """

    status: str = "open"
    min_score: float | None = None
    min_amount: float | None = None
    rule: str | None = None
    model_version: str | None = None
    min_age_minutes: float | None = None
    max_age_minutes: float | None = None
    sort: str = "score"
    grouped: bool = False

    def __post_init__(self) -> None:
        for name in ("min_age_minutes", "max_age_minutes"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 10**7:
                raise ValidationError(name, "must be between 0 and 10,000,000 minutes")
        low, high = self.min_age_minutes, self.max_age_minutes
        if low is not None and high is not None and low > high:
            raise ValidationError("max_age_minutes", "is below the minimum age")
        if self.sort not in SORTS:
            raise ValidationError("sort", f"{self.sort!r} is not one of {list(SORTS)}")
        if self.status not in STATUS_VIEWS:
            raise ValidationError("status", f"{self.status!r} is not one of {list(STATUS_VIEWS)}")


def list_queue(conn: Connection, wanted: QueueFilter, limit: int = 50) -> list[dict[str, Any]]:
    """Cases matching ``wanted``, each with its decision and its group's size."""
    group_size = func.count().over(partition_by=cases.c.group_key)
    stmt = select(
        cases,
        decisions.c.transaction_id,
        decisions.c.event_time,
        decisions.c.decision,
        decisions.c.score,
        decisions.c.rule_hits,
        decisions.c.model_version,
        decisions.c.transaction,
        _AMOUNT.label("amount"),
        group_size.label("group_size"),
        func.extract("epoch", func.now() - cases.c.opened_at).label("waited_seconds"),
    ).join(decisions, decisions.c.decision_id == cases.c.decision_id)
    if wanted.status == "open":
        stmt = stmt.where(cases.c.status.in_(("open", "escalated")))
    elif wanted.status != "all":
        stmt = stmt.where(cases.c.status == wanted.status)
    if wanted.min_score is not None:
        stmt = stmt.where(decisions.c.score >= wanted.min_score)
    if wanted.min_amount is not None:
        stmt = stmt.where(_AMOUNT >= wanted.min_amount)
    if wanted.rule:
        stmt = stmt.where(
            decisions.c.rule_hits.contains(cast(literal([wanted.rule], JSONB), JSONB))
        )
    if wanted.model_version:
        stmt = stmt.where(decisions.c.model_version == wanted.model_version)
    if wanted.min_age_minutes is not None:
        stmt = stmt.where(cases.c.opened_at <= func.now() - _minutes(wanted.min_age_minutes))
    if wanted.max_age_minutes is not None:
        stmt = stmt.where(cases.c.opened_at >= func.now() - _minutes(wanted.max_age_minutes))
    order = _order(wanted.sort, decisions.c.score, _AMOUNT, cases.c.opened_at, cases.c.case_id)
    if wanted.grouped:  # the group's size counts the cases the filters kept
        rank = func.row_number().over(partition_by=cases.c.group_key, order_by=order)
        inner = stmt.add_columns(rank.label("group_rank")).subquery()
        c = inner.c
        stmt = select(*[col for col in c if col.name != "group_rank"]).where(c.group_rank == 1)
        order = _order(wanted.sort, c.score, c.amount, c.opened_at, c.case_id)
    stmt = stmt.order_by(*order).limit(limit)
    return [dict(row) for row in conn.execute(stmt).mappings()]


def _order(sort: str, score: Any, amount: Any, opened_at: Any, case_id: Any) -> tuple[Any, ...]:
    return {
        "score": (score.desc().nulls_last(), opened_at, case_id),
        "amount": (amount.desc().nulls_last(), opened_at, case_id),
        "age": (opened_at, case_id),
    }[sort]


def _minutes(value: float) -> Any:
    return func.make_interval(0, 0, 0, 0, 0, 0, literal(value * 60.0, Float))


def get_case(conn: Connection, case_id: str) -> dict[str, Any] | None:
    """One case with its full decision (None when there is no such case)."""
    row = (
        conn.execute(
            select(cases, *[c for c in decisions.c if c.name not in ("decision_id", "card_token")])
            .join(decisions, decisions.c.decision_id == cases.c.decision_id)
            .where(cases.c.case_id == case_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def case_trail(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """The case's events, oldest first."""
    stmt = select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.at)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _with_labels(conn: Connection, stmt: Any, limit: int) -> list[dict[str, Any]]:
    rows = [dict(r) for r in conn.execute(stmt.limit(limit)).mappings()]
    found = latest_labels(conn, [r["transaction_id"] for r in rows])
    for row in rows:
        label = found.get(row["transaction_id"])
        row["label"] = None if label is None else ("fraud" if label.is_fraud else "legitimate")
    return rows


def card_history(
    conn: Connection, card_token: str, before: datetime, limit: int = 20
) -> list[dict[str, Any]]:
    """The card's decisions up to ``before``, newest first, with their latest label."""
    stmt = (
        select(decisions)
        .where(decisions.c.card_token == card_token, decisions.c.event_time <= before)
        .order_by(decisions.c.event_time.desc())
    )
    return _with_labels(conn, stmt, limit)


def terminal_history(
    conn: Connection, terminal_id: str, before: datetime, limit: int = 20
) -> list[dict[str, Any]]:
    """The terminal's decisions up to ``before``, newest first, with their latest label."""
    stmt = (
        select(decisions)
        .where(
            decisions.c.transaction["terminal_id"].astext == terminal_id,
            decisions.c.event_time <= before,
        )
        .order_by(decisions.c.event_time.desc())
    )
    return _with_labels(conn, stmt, limit)


def group_cases(conn: Connection, group_key: str) -> list[dict[str, Any]]:
    """The cases of one group (a card's reviews within the window), oldest first."""
    stmt = (
        select(cases.c.case_id, cases.c.status, cases.c.resolution, decisions.c.event_time)
        .join(decisions, decisions.c.decision_id == cases.c.decision_id)
        .where(cases.c.group_key == group_key)
        .order_by(decisions.c.event_time)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def labels_of(conn: Connection, transaction_id: str) -> list[dict[str, Any]]:
    """Every label of a transaction, newest first (re-labels are kept)."""
    stmt = (
        select(labels)
        .where(labels.c.transaction_id == transaction_id)
        .order_by(labels.c.label_time.desc(), labels.c.label_id.desc())
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]
