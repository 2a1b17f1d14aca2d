"""Analyst cases and their event trail (the workspace built on top comes next)."""

from __future__ import annotations

from sqlalchemy import Connection, func

from fraudlens.errors import ValidationError
from fraudlens.records.tables import case_events, cases

STATUSES = frozenset({"open", "closed", "escalated"})


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
