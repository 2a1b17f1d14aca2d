"""Rule versions, drift checks, retraining jobs and promotions: one writer each.

Thin on purpose: the components that produce these records move onto them in
later steps; the tables and these writers are the contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert

from fraudlens.records.tables import drift_checks, promotions, retrain_jobs, rules


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
) -> None:
    """Store one drift check (a check id already stored is kept as it is)."""
    stmt = insert(drift_checks).values(
        check_id=check_id,
        checked_at=checked_at,
        model_version=model_version,
        drifted=drifted,
        report=dict(report),
    )
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["check_id"]))


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
