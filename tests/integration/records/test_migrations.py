"""Migrations shipped in the package create exactly the tables the code uses."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, make_url, text

from fraudlens.records import head_revision, make_engine, status, upgrade
from fraudlens.records.tables import metadata

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
