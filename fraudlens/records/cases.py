"""Analyst cases and their event trail (the workspace reads and works them)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from fraudlens.errors import ValidationError
from fraudlens.records.tables import case_events, cases, decisions
from fraudlens.settings import WorkspaceSettings

STATUSES = frozenset({"open", "closed", "escalated"})
# The decisions that open a case unless ``workspace.case_decisions`` says otherwise.
CASE_DECISIONS: tuple[str, ...] = tuple(WorkspaceSettings().case_decisions)


def open_case(
    conn: Connection,
    case_id: str,
    card_token: str,
    *,
    decision_id: str | None = None,
    group_key: str | None = None,
    assignee: str | None = None,
    actor: str = "system",
) -> None:
    """Open a case and record the ``opened`` event, in the caller's transaction."""
    conn.execute(
        cases.insert().values(
            case_id=case_id,
            card_token=card_token,
            decision_id=decision_id,
            group_key=group_key,
            assignee=assignee,
        )
    )
    add_case_event(conn, case_id, actor, "opened")


def add_case_event(conn: Connection, case_id: str, actor: str, action: str, note: str = "") -> None:
    """Append one event (comment, assignment, status change) to a case's trail."""
    conn.execute(
        case_events.insert().values(case_id=case_id, actor=actor, action=action, note=note)
    )


def set_case_status(
    conn: Connection, case_id: str, status: str, actor: str, note: str = ""
) -> None:
    """Move a case to ``status`` and record who did it.

    Raises:
        ValidationError: an unknown status, or no such case.
    """
    if status not in STATUSES:
        raise ValidationError("status", f"{status!r} is not one of {sorted(STATUSES)}")
    closed_at = func.now() if status == "closed" else None
    done = conn.execute(
        cases.update().where(cases.c.case_id == case_id).values(status=status, closed_at=closed_at)
    )
    if done.rowcount == 0:
        raise ValidationError("case_id", f"no case {case_id!r}")
    add_case_event(conn, case_id, actor, f"status:{status}", note)


def open_cases(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    group_window: timedelta,
    case_decisions: Collection[str] = CASE_DECISIONS,
) -> int:
    """Open one case per decision row whose decision is in ``case_decisions``.

    Runs in the caller's transaction.
    The case id is the decision id, so a redelivered decision opens nothing.
    A case joins the group of the same card's newest case whose transaction
    happened within ``group_window`` before its own; otherwise it starts a
    group named after itself. Call after the decisions are stored.

    Returns:
        How many cases were opened.
    """
    opened = 0
    for row in sorted(rows, key=lambda r: r["event_time"]):
        if row["decision"] not in case_decisions:
            continue
        case_id, time = row["decision_id"], row["event_time"]
        group = conn.execute(
            select(cases.c.group_key)
            .join(decisions, decisions.c.decision_id == cases.c.decision_id)
            .where(
                cases.c.card_token == row["card_token"],
                cases.c.case_id != case_id,
                decisions.c.event_time.between(time - group_window, time),
            )
            .order_by(decisions.c.event_time.desc())
            .limit(1)
        ).scalar()
        done = conn.execute(
            insert(cases)
            .values(
                case_id=case_id,
                decision_id=case_id,
                card_token=row["card_token"],
                group_key=group or case_id,
            )
            .on_conflict_do_nothing(index_elements=["case_id"])
            .returning(cases.c.case_id)
        ).first()
        if done is not None:
            note = f"{row['decision']} by {row['source']}"
            add_case_event(conn, case_id, "system", "opened", note)
            opened += 1
    return opened
