"""Migrations shipped in the package create exactly the tables the code uses, and
carry the rows of an older release's schema over."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, make_url, select, text

from fraudlens.records import head_revision, make_engine, status, upgrade
from fraudlens.records.audit import PgAuditLog, verify_chain
from fraudlens.records.pan import scan_records
from fraudlens.records.tables import decisions, metadata

pytestmark = pytest.mark.integration


def _models_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def test_upgrade_creates_every_table_and_matches_the_models(records_engine: Engine) -> None:
    tables = set(inspect(records_engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= tables
    diff = _models_diff(records_engine)
    assert diff == [], f"tables.py and the migrations differ: {diff}"


def test_upgrade_again_is_a_no_op_and_status_reports_head(records_engine: Engine) -> None:
    assert upgrade(records_engine) == head_revision()
    report = status(records_engine)
    assert report.up_to_date and report.current == head_revision()
    assert set(report.tables) == {t.name for t in metadata.sorted_tables}


def test_status_of_an_empty_schema_says_not_migrated(postgres_url: str) -> None:
    name = f"fraudlens_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={name}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        report = status(engine)
        assert report.current is None and not report.up_to_date and report.tables == {}
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def test_the_terminal_history_query_can_use_its_index(records_engine: Engine) -> None:
    """Migration 0005 indexes the expression ``terminal_history`` filters on."""
    names = {i["name"] for i in inspect(records_engine).get_indexes("decisions")}
    assert "ix_decisions_terminal_id_event_time" in names
    stmt = select(decisions.c.decision_id).where(  # terminal_history's filter
        decisions.c.transaction["terminal_id"].astext == "T1",
        decisions.c.event_time <= datetime(2026, 6, 1, tzinfo=UTC),
    )
    with records_engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))  # a small table: force the choice
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
        plan = [str(r[0]) for r in conn.execute(text(f"EXPLAIN {compiled}"))]
    assert any("ix_decisions_terminal_id_event_time" in line for line in plan), plan


@pytest.fixture
def empty_engine(postgres_url: str, pan_guard: Any) -> Iterator[Engine]:
    """An engine on a fresh, unmigrated schema (its rows PAN-scanned, then dropped)."""
    name = f"fraudlens_old_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={name}"})
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=2)
    try:
        yield engine
        scan = scan_records(engine, networks_only=True)
        pan_guard.add(scan.findings, "PostgreSQL rows", sum(scan.counts.values()))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


AUDIT_KEY = b"m" * 32
CARD = "tok_test_" + "abcdefghijklmnop" * 2  # tokens spell their digest with a-p
# One row of each kind a release wrote, in the columns 0001 created (later
# migrations only add to them). Ids are fixed: the check reads them back.
OLD_ROWS: dict[str, dict[str, Any]] = {
    "decisions": {
        "decision_id": "dec-1",
        "transaction_id": "tx-1",
        "event_time": "2026-11-02T10:00:00+00:00",
        "card_token": CARD,
        "score": 0.91,
        "decision": "review",
        "reasons": json.dumps(["amount_vs_usual"]),
        "rule_hits": json.dumps([]),
        "model_version": "7",
        "degraded": False,
        "source": "api",
        "scored_at": "2026-11-02T10:00:00.120000+00:00",
    },
    "labels": {
        "label_id": 1,
        "transaction_id": "tx-1",
        "is_fraud": True,
        "label_time": "2026-11-20T08:00:00+00:00",
        "source": "chargeback",
        "author": "issuer",
    },
    "rules": {
        "version": 1,
        "rule_set": json.dumps({"deny_terminals": ["term00042"]}),
        "author": "ana",
        "comment": "a compromised terminal",
    },
    "drift_checks": {
        "check_id": "chk-1",
        "checked_at": "2026-11-03T03:00:00+00:00",
        "model_version": "7",
        "drifted": True,
        "report": json.dumps({"share_drifted": 0.4}),
    },
    "retrain_jobs": {
        "job_id": "job-1",
        "state": "succeeded",
        "outcome": "promoted",
        "reasons": json.dumps(["drift"]),
        "started_at": "2026-11-03T03:05:00+00:00",
        "finished_at": "2026-11-03T03:40:00+00:00",
    },
    "promotions": {
        "promotion_id": 1,
        "model_name": "fraudlens-ensemble",
        "version": "8",
        "alias": "champion",
        "previous_version": "7",
        "actor": "drift-loop",
        "metrics": json.dumps({"average_precision": 0.71}),
    },
    "cases": {
        "case_id": "case-1",
        "decision_id": "dec-1",
        "card_token": CARD,
        "status": "open",
        "group_key": f"{CARD}:2026-11-02T10",
        "assignee": "ana",
        "opened_at": "2026-11-02T10:00:01+00:00",
    },
    "case_events": {"event_id": 1, "case_id": "case-1", "actor": "ana", "action": "assigned"},
}
# Columns later migrations added to those tables, NULL on the old rows.
ADDED = {
    "decisions": ["transaction", "features"],
    "cases": ["resolution", "resolved_by"],
    "drift_checks": ["report_html"],
}


def _insert_old_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        for table, row in OLD_ROWS.items():  # parents before children
            columns = ", ".join(f'"{c}"' for c in row)
            values = ", ".join(f":{c}" for c in row)
            conn.execute(text(f'INSERT INTO "{table}" ({columns}) VALUES ({values})'), row)


def _read(engine: Engine, table: str, key: str, value: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text(f'SELECT * FROM "{table}" WHERE "{key}" = :v'), {"v": value})
        return dict(row.mappings().one())


# 0001: the first release's schema; 0004: the last landed release's (before 0005's index);
# 0005: main's before 0006's features column (existing decisions keep no vector: null);
# 0006: main's before 0007's report_html column (existing checks keep no page: null);
# 0007: main's before 0008's shadow_scores table (created empty).
@pytest.mark.parametrize("previous", ["0001", "0004", "0005", "0006", "0007"])
def test_upgrade_from_an_older_release_keeps_its_rows(empty_engine: Engine, previous: str) -> None:
    assert upgrade(empty_engine, previous) == previous
    report = status(empty_engine)  # a database behind the package: reported, not an error
    assert (report.current, report.up_to_date) == (previous, False)
    _insert_old_rows(empty_engine)
    trail = PgAuditLog(empty_engine, AUDIT_KEY)
    trail.append("ana", "rule.changed", target="rules/1", details={"version": 1})
    head = trail.append("drift-loop", "model.promoted", target="fraudlens-ensemble/8").hash
    before = {
        t: _read(empty_engine, t, next(iter(r)), next(iter(r.values())))
        for t, r in OLD_ROWS.items()
    }

    assert upgrade(empty_engine) == head_revision()
    diff = _models_diff(empty_engine)
    assert diff == [], f"an upgraded {previous} schema differs from tables.py: {diff}"
    for table, row in OLD_ROWS.items():
        after = _read(empty_engine, table, next(iter(row)), next(iter(row.values())))
        assert {c: after[c] for c in before[table]} == before[table], table
        for column in ADDED.get(table, []):
            if column not in before[table]:
                assert after[column] is None, f"{table}.{column}"
    verified = verify_chain(empty_engine, AUDIT_KEY, expected_head=head)
    assert (verified.entries, verified.problems, verified.head) == (2, [], head)
    report = status(empty_engine)
    assert report.up_to_date and report.tables["decisions"] == 1
    assert report.tables["audit"] == 2 and report.tables["api_keys"] == 0
    assert report.tables["shadow_scores"] == 0
