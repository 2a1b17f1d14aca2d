"""The audit chain in PostgreSQL: several processes extend one verifiable chain."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter

import pytest
from records_workers import append_audit_entries
from sqlalchemy import Engine, select, text

from fraudlens.errors import AuditError
from fraudlens.records import PgAuditLog, verify_chain
from fraudlens.records.tables import audit

pytestmark = pytest.mark.integration
KEY = b"audit-test-key-0123456789abcdef-0123"
PER_WRITER = 150


def test_two_processes_and_a_thread_extend_one_chain(
    records_url: str, records_engine: Engine
) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [
        ctx.Process(
            target=append_audit_entries,
            args=(records_url, KEY, PER_WRITER, f"proc-{n}", barrier),
        )
        for n in range(2)
    ]
    for proc in procs:
        proc.start()
    thread = threading.Thread(
        target=append_audit_entries,
        args=(records_url, KEY, PER_WRITER, "thread", barrier),
    )
    thread.start()
    thread.join(120)
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    result = verify_chain(records_engine, KEY)
    assert result.ok, result.problems
    assert result.entries == 3 * PER_WRITER
    with records_engine.connect() as conn:
        rows = conn.execute(select(audit.c.seq, audit.c.actor).order_by(audit.c.seq)).all()
    assert [seq for seq, _ in rows] == list(range(3 * PER_WRITER))
    assert Counter(actor for _, actor in rows) == {
        "proc-0": PER_WRITER,
        "proc-1": PER_WRITER,
        "thread": PER_WRITER,
    }
    # The wrong key does not verify.
    assert not verify_chain(records_engine, b"another-key-0123456789abcdef-01234").ok


def test_an_edited_row_is_named_by_seq_and_field(records_engine: Engine) -> None:
    with records_engine.begin() as conn:
        conn.execute(text("UPDATE audit SET actor = 'mallory' WHERE seq = 123"))
    result = verify_chain(records_engine, KEY)
    assert result.problems == ["seq 123: field actor: changed after it was hashed"]
    with records_engine.begin() as conn:
        conn.execute(
            text("UPDATE audit SET body = replace(body, :old, :new) WHERE seq = 40"),
            {"old": '"actor":"', "new": '"actor":"x'},
        )
    problems = verify_chain(records_engine, KEY).problems
    assert "seq 40: field body or hash: hash mismatch (edited, or wrong key)" in problems


def test_deleted_rows_are_detected(records_engine: Engine) -> None:
    head = verify_chain(records_engine, KEY).head
    with records_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE seq = 200"))
    problems = verify_chain(records_engine, KEY).problems
    assert any(p.startswith("seq 201: sequence 201 where 200 was expected") for p in problems)
    assert "seq 201: field prev: does not chain to the previous row" in problems
    # Removing the newest row leaves a valid shorter chain: the head kept elsewhere tells.
    with records_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)"))
    problems = verify_chain(records_engine, KEY, expected_head=head).problems
    assert "expected head hash not found: the chain was truncated or rewritten" in problems


def test_append_refuses_bad_entries(records_engine: Engine) -> None:
    log = PgAuditLog(records_engine, KEY)
    with pytest.raises(AuditError, match="actor"):
        log.append("", "rule.changed")
    with pytest.raises(AuditError, match="JSON"):
        log.append("ana", "rule.changed", details={"when": object()})
