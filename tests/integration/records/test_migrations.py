"""Migrations shipped in the package create exactly the tables the code uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, make_url, select, text

from fraudlens.records import head_revision, make_engine, status, upgrade
from fraudlens.records.tables import decisions, metadata

pytestmark = pytest.mark.integration


def test_upgrade_creates_every_table_and_matches_the_models(records_engine: Engine) -> None:
    tables = set(inspect(records_engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= tables
    with records_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
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
