"""Rule versions, drift checks, retraining jobs and promotions: one writer each.

Thin on purpose: the components that produce these records move onto them in
later steps; the tables and these writers are the contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert

from fraudlens.records.tables import (
    drift_checks,
    drift_loop_state,
    promotions,
    retrain_jobs,
    rules,
)


def add_rule_version(
    conn: Connection, rule_set: Mapping[str, Any], author: str, comment: str = ""
) -> int:
    """Store a new version of the live rule set; returns its version number."""
    stmt = rules.insert().values(rule_set=dict(rule_set), author=author, comment=comment)
    return int(conn.execute(stmt.returning(rules.c.version)).scalar_one())


def record_drift_check(
    conn: Connection,
    check_id: str,
    checked_at: datetime,
    model_version: str,
    drifted: bool,
    report: Mapping[str, Any],
    html: str | None = None,
) -> None:
    """Store one drift check, with its HTML page (a check id already stored is kept as it is)."""
    stmt = insert(drift_checks).values(
        check_id=check_id,
        checked_at=checked_at,
        model_version=model_version,
        drifted=drifted,
        report=dict(report),
        report_html=html,
    )
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["check_id"]))


def read_drift_report_html(conn: Connection, check_id: str | None = None) -> tuple[str, str] | None:
    """A check's id and HTML page (default: the newest check that has one); None if none."""
    stmt = select(drift_checks.c.check_id, drift_checks.c.report_html).where(
        drift_checks.c.report_html.is_not(None)
    )
    if check_id is not None:
        stmt = stmt.where(drift_checks.c.check_id == check_id)
    row = conn.execute(stmt.order_by(drift_checks.c.checked_at.desc()).limit(1)).first()
    return (row.check_id, row.report_html) if row is not None else None


def upsert_retrain_job(
    conn: Connection,
    job_id: str,
    state: str,
    started_at: datetime,
    *,
    outcome: str | None = None,
    reasons: Sequence[str] = (),
    finished_at: datetime | None = None,
) -> None:
    """Create a retraining job or move it to a new state (pending, running, succeeded, failed)."""
    values = {
        "job_id": job_id,
        "state": state,
        "outcome": outcome,
        "reasons": list(reasons),
        "started_at": started_at,
        "finished_at": finished_at,
    }
    stmt = insert(retrain_jobs).values(**values)
    update = {k: stmt.excluded[k] for k in ("state", "outcome", "reasons", "finished_at")}
    conn.execute(stmt.on_conflict_do_update(index_elements=["job_id"], set_=update))


def record_promotion(
    conn: Connection,
    model_name: str,
    version: str,
    alias: str,
    actor: str,
    *,
    previous_version: str | None = None,
    metrics: Mapping[str, float] | None = None,
) -> int:
    """Store one alias move (e.g. version 7 became ``champion``); returns its id."""
    stmt = promotions.insert().values(
        model_name=model_name,
        version=version,
        alias=alias,
        actor=actor,
        previous_version=previous_version,
        metrics=dict(metrics or {}),
    )
    return int(conn.execute(stmt.returning(promotions.c.promotion_id)).scalar_one())


def promotion_history(
    conn: Connection, model_name: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """The newest ``limit`` alias moves (of ``model_name``, or of every model), newest first."""
    stmt = select(promotions)
    if model_name is not None:
        stmt = stmt.where(promotions.c.model_name == model_name)
    stmt = stmt.order_by(promotions.c.created_at.desc(), promotions.c.promotion_id.desc())
    return [dict(row) for row in conn.execute(stmt.limit(limit)).mappings()]


def start_retrain_job(conn: Connection, job_id: str, started_at: datetime) -> None:
    """Store a launched job as running (kept as it is if the job already wrote its outcome)."""
    stmt = insert(retrain_jobs).values(
        job_id=job_id, state="running", reasons=[], started_at=started_at
    )
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["job_id"]))


def finish_retrain_job(
    conn: Connection,
    job_id: str,
    outcome: str,
    version: str | None,
    reasons: Sequence[str],
    finished_at: datetime,
) -> None:
    """Store a job's outcome (promoted, refused or failed); creates the row if it is missing."""
    values = {
        "job_id": job_id,
        "state": "failed" if outcome == "failed" else "succeeded",
        "outcome": outcome,
        "model_version": version,
        "reasons": list(reasons),
        "started_at": finished_at,
        "finished_at": finished_at,
    }
    stmt = insert(retrain_jobs).values(**values)
    update = {
        k: stmt.excluded[k] for k in ("state", "outcome", "model_version", "reasons", "finished_at")
    }
    conn.execute(stmt.on_conflict_do_update(index_elements=["job_id"], set_=update))


def read_retrain_job(conn: Connection, job_id: str) -> dict[str, Any] | None:
    """One job's row as a dict, or None when no such job was stored."""
    row = conn.execute(select(retrain_jobs).where(retrain_jobs.c.job_id == job_id)).first()
    return dict(row._mapping) if row is not None else None


def load_loop_state(conn: Connection, model_name: str) -> dict[str, Any] | None:
    """The retraining loop's saved state for ``model_name``, or None before its first save."""
    stmt = select(drift_loop_state.c.state).where(drift_loop_state.c.model_name == model_name)
    state = conn.execute(stmt).scalar_one_or_none()
    return dict(state) if state is not None else None


def save_loop_state(
    conn: Connection, model_name: str, state: Mapping[str, Any], updated_at: datetime
) -> None:
    """Replace the retraining loop's state for ``model_name``."""
    stmt = insert(drift_loop_state).values(
        model_name=model_name, state=dict(state), updated_at=updated_at
    )
    update = {k: stmt.excluded[k] for k in ("state", "updated_at")}
    conn.execute(stmt.on_conflict_do_update(index_elements=["model_name"], set_=update))
