"""Rule versions, drift checks, retraining jobs, promotions and cases: the writers work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from fraudlens.errors import ValidationError
from fraudlens.records import (
    add_case_event,
    add_rule_version,
    open_case,
    record_drift_check,
    record_promotion,
    set_case_status,
    upsert_retrain_job,
)
from fraudlens.records.pan import scan_records
from fraudlens.records.tables import case_events, cases, drift_checks, retrain_jobs, rules

pytestmark = pytest.mark.integration
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_operation_records(records_engine: Engine) -> None:
    with records_engine.begin() as conn:
        first = add_rule_version(conn, {"blocked_terminals": ["t1"]}, "ana")
        second = add_rule_version(conn, {"blocked_terminals": []}, "bob", "unblock t1")
        assert second == first + 1
        for _ in range(2):  # a re-run of the same check is stored once
            record_drift_check(conn, "chk-1", T0, "7", True, {"psi": {"amount": 0.3}})
        upsert_retrain_job(conn, "job-1", "running", T0)
        upsert_retrain_job(
            conn,
            "job-1",
            "succeeded",
            T0,
            outcome="promoted",
            reasons=["drift"],
            finished_at=T0 + timedelta(hours=1),
        )
        assert record_promotion(conn, "fraudlens", "8", "champion", "ana", previous_version="7")
        job = conn.execute(select(retrain_jobs)).one()
        assert (job.state, job.outcome, job.reasons) == ("succeeded", "promoted", ["drift"])
        assert conn.execute(select(drift_checks.c.check_id)).scalars().all() == ["chk-1"]
    with pytest.raises(IntegrityError), records_engine.begin() as conn:
        upsert_retrain_job(conn, "job-2", "exploded", T0)  # the state check holds


def test_case_lifecycle(records_engine: Engine) -> None:
    with records_engine.begin() as conn:
        open_case(conn, "case-1", "tok_case_a", group_key="terminal:t9", actor="rules")
        add_case_event(conn, "case-1", "ana", "comment", "called the cardholder")
        set_case_status(conn, "case-1", "closed", "ana", "confirmed fraud")
        with pytest.raises(ValidationError, match="status"):
            set_case_status(conn, "case-1", "lost", "ana")
        with pytest.raises(ValidationError, match="case_id"):
            set_case_status(conn, "case-nope", "open", "ana")
        case = conn.execute(select(cases)).one()
        trail = conn.execute(
            select(case_events.c.actor, case_events.c.action).order_by(case_events.c.event_id)
        ).all()
    assert case.status == "closed" and case.closed_at is not None
    assert [tuple(t) for t in trail] == [
        ("rules", "opened"),
        ("ana", "comment"),
        ("ana", "status:closed"),
    ]


def test_row_scan_finds_a_card_number(records_engine: Engine) -> None:
    pan = "4111" + "1111" * 3  # the classic test card
    with records_engine.begin() as conn:
        version = add_rule_version(conn, {"note": f"card {pan}"}, "careless")
    try:
        scan = scan_records(records_engine, networks_only=True)
    finally:
        with records_engine.begin() as conn:
            conn.execute(rules.delete().where(rules.c.version == version))
    assert [(f.source, f.location.split(",")[0]) for f in scan.findings] == [
        ("postgresql", "table rules")
    ]
    assert pan not in scan.findings[0].masked and scan.findings[0].masked.endswith("1111")
    assert scan.counts["rules"] >= 1 and "audit" in scan.counts
