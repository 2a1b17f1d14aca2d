"""Erasure and retention reach the records database (decisions, labels, cases).

Two customers: C1 (card a) is erased, C2 (card b) stays. The raw history
links C1 to card a and one transaction; the records eraser finds C1's other
transaction through its decision, so that transaction's label goes too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select

from fraudlens.records import LabelRecord, add_case_event, add_labels, open_case, upsert_decisions
from fraudlens.records.tables import case_events, cases, decisions, labels
from fraudlens.security.audit import AuditLog
from fraudlens.security.privacy import ParquetEraser, default_erasers, erase_customer
from fraudlens.security.records_erasure import RecordsEraser
from fraudlens.security.retention import apply_retention
from fraudlens.settings import Settings

pytestmark = pytest.mark.integration
NOW = datetime(2026, 9, 1, tzinfo=UTC)
CARD_A, CARD_B = "tok_k1_" + "a" * 32, "tok_k1_" + "b" * 32


def _decision(tx: str, card: str, days_ago: int) -> dict[str, object]:
    when = NOW - timedelta(days=days_ago)
    return {
        "decision_id": f"dec-{tx}",
        "transaction_id": tx,
        "event_time": when,
        "card_token": card,
        "score": 0.4,
        "decision": "review",
        "reasons": [],
        "rule_hits": [],
        "model_version": "3",
        "degraded": False,
        "source": "api",
        "scored_at": when,
        "features": {"amount": 12.0, "km": 3.5},  # a sampled vector: erased with its row
    }


def _count(engine: Engine, table: object, where: object = None) -> int:
    stmt = select(func.count()).select_from(table)  # type: ignore[arg-type]
    if where is not None:
        stmt = stmt.where(where)  # type: ignore[arg-type]
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def _case(conn: object, case_id: str, tx: str, card: str) -> None:
    open_case(conn, case_id, card, decision_id=f"dec-{tx}")  # type: ignore[arg-type]
    add_case_event(conn, case_id, "analyst-7", "note", "called the cardholder")  # type: ignore[arg-type]


@pytest.fixture
def settings(records_url: str, records_engine: Engine, tmp_path: Path) -> Settings:
    rows = [("a1", CARD_A, 10), ("a2", CARD_A, 3), ("b1", CARD_B, 10), ("b2", CARD_B, 500)]
    with records_engine.begin() as conn:
        for table in (case_events, cases, labels, decisions):
            conn.execute(table.delete())
        upsert_decisions(conn, [_decision(tx, card, days) for tx, card, days in rows])
        add_labels(
            conn,
            [
                LabelRecord(tx, True, NOW - timedelta(days=days - 1), "chargeback")
                for tx, _, days in rows
            ],
        )
        _case(conn, "case-a", "a1", CARD_A)
        _case(conn, "case-b", "b2", CARD_B)  # open: keeps its 500-day-old decision
    (tmp_path / "sim").mkdir()
    pq.write_table(  # the raw history knows one of C1's transactions
        pa.table({"transaction_id": ["a1"], "customer_id": ["C1"], "card_token": [CARD_A]}),
        tmp_path / "sim" / "transactions.parquet",
    )
    return Settings(data_dir=tmp_path, records={"database_url": records_url})


def test_erasure_deletes_the_customers_rows_and_keeps_the_others(
    settings: Settings, records_engine: Engine, tmp_path: Path
) -> None:
    assert default_erasers(settings)[-1].name == "records_database"
    erasers = [ParquetEraser("raw_history", [tmp_path / "sim"]), RecordsEraser(settings)]
    report = erase_customer(
        settings, "C1", erasers=erasers, audit=AuditLog(tmp_path / "audit.jsonl")
    )
    assert not report.failed and report.pending == ["online_store"]  # not in this list
    assert (report.card_tokens, report.transactions) == (1, 2)
    pg = next(s for s in report.stores if s.store == "records_database")
    assert pg.rows_removed == 2 + 2 + 1 + 2  # decisions, labels, the case and its 2 events
    assert _count(records_engine, decisions, decisions.c.card_token == CARD_A) == 0
    assert _count(records_engine, labels, labels.c.transaction_id.in_(["a1", "a2"])) == 0
    assert _count(records_engine, cases, cases.c.card_token == CARD_A) == 0
    assert _count(records_engine, decisions) == 2 and _count(records_engine, labels) == 2
    assert _count(records_engine, decisions, decisions.c.features.is_not(None)) == 2  # B's
    assert _count(records_engine, cases) == 1 and _count(records_engine, case_events) == 2
    again = erase_customer(
        settings, "C1", erasers=[RecordsEraser(settings)], audit=AuditLog(tmp_path / "a2.jsonl")
    )
    assert not again.failed and again.rows_removed == 0


def test_retention_prunes_old_rows_but_not_an_open_cases_decision(
    settings: Settings, records_engine: Engine, tmp_path: Path
) -> None:
    with records_engine.begin() as conn:  # case-a closed long ago: its case and event go
        conn.execute(
            cases.update()
            .where(cases.c.case_id == "case-a")
            .values(status="closed", closed_at=NOW - timedelta(days=9))
        )
    tuned = settings.model_copy(
        update={
            "security": settings.security.model_copy(
                update={"retention_days": {"decision_records": 5, "case_records": 7}}
            )
        }
    )
    report = apply_retention(tuned, now=NOW, audit=AuditLog(tmp_path / "audit.jsonl"))
    # decisions older than 5 days: a1 and b1 go, b2 stays for its open case
    assert report.rows_removed["decision_records"] == 2
    assert report.rows_removed["label_records"] == 1  # b2's label, 499 days old (425 kept)
    assert report.rows_removed["case_records"] == 1
    with records_engine.connect() as conn:
        left = set(conn.execute(select(decisions.c.transaction_id)).scalars())
    assert left == {"a2", "b2"} and _count(records_engine, case_events) == 2
    assert "decision_records" in report.cutoffs
