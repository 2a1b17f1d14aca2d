"""A verdict and its audit entry are one: an audit failure leaves no verdict, no stored label,
no published label and no entry; a publish failure leaves no entry in the chain either."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cases_data import CARD_A, CARD_B, T0, decision, store
from sqlalchemy import Connection, Engine, func, select

from fraudlens.errors import AuditError, BrokerError
from fraudlens.records.audit import PgAuditLog
from fraudlens.records.sink import DecisionWriter
from fraudlens.records.tables import audit, case_events, cases, labels
from fraudlens.schema import Label
from fraudlens.security.audit import AuditEntry, AuditLog
from fraudlens.workspace import CaseDesk

pytestmark = pytest.mark.integration


class Publisher:
    """Keeps what it published; fails while ``down``."""

    def __init__(self) -> None:
        self.published: list[Label] = []
        self.down = False

    def publish(self, batch: Sequence[Label]) -> None:
        if self.down:
            raise BrokerError("labels topic unavailable")
        self.published.extend(batch)


class BrokenPgAudit(PgAuditLog):
    """Writes the entry in the caller's transaction, then fails (as a refused write would)."""

    def append_in(self, conn: Connection, *args: Any, **kwargs: Any) -> AuditEntry:
        super().append_in(conn, *args, **kwargs)
        raise AuditError("cannot append to the audit table: disk full")


class BrokenFileAudit(AuditLog):
    def append(
        self,
        actor: str,
        action: str,
        *,
        target: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        raise AuditError("cannot write the audit log: disk full")


@pytest.fixture(scope="module", autouse=True)
def _cases(records_engine: Engine) -> None:
    store(
        DecisionWriter(records_engine, group_window=timedelta(0)),
        [decision("q1", CARD_A, 0), decision("q2", CARD_B, 5), decision("q3", CARD_B, 500)],
    )


def _state(engine: Engine) -> tuple[dict[str, str], int, int, int]:
    """Case statuses, labels, audit rows and case events other than 'opened'."""
    with engine.connect() as conn:
        status = {r[0]: r[1] for r in conn.execute(select(cases.c.case_id, cases.c.status))}
        n_labels = conn.execute(select(func.count()).select_from(labels)).scalar_one()
        n_audit = conn.execute(select(func.count()).select_from(audit)).scalar_one()
        events = conn.execute(
            select(func.count()).select_from(case_events).where(case_events.c.action != "opened")
        ).scalar_one()
    return status, n_labels, n_audit, events


def test_an_audit_failure_leaves_no_verdict_and_no_label(records_engine: Engine) -> None:
    publisher = Publisher()
    desk = CaseDesk(records_engine, publisher, BrokenPgAudit(records_engine))
    before = _state(records_engine)
    with pytest.raises(AuditError):
        desk.act("d-q1", "api_key:ana1", "fraud", "cardholder denies")
    with pytest.raises(AuditError):
        desk.close_card(CARD_B, "api_key:ana1", "legitimate")
    with pytest.raises(AuditError):
        desk.act("d-q1", "api_key:ana1", "note", "called the bank")
    assert _state(records_engine) == before  # no status, label, audit row or event
    assert publisher.published == []

    # A working chain on the same database: verdict, label and entry, all at once.
    chain = PgAuditLog(records_engine)
    CaseDesk(records_engine, publisher, chain).act("d-q1", "api_key:ana1", "fraud")
    status, n_labels, n_audit, _ = _state(records_engine)
    assert status["d-q1"] == "closed" and n_labels == before[1] + 1 and n_audit == before[2] + 1
    assert [p.transaction_id for p in publisher.published] == ["q1"]
    assert chain.verify().problems == []


def test_a_publish_failure_leaves_no_entry_in_the_chain(records_engine: Engine) -> None:
    publisher = Publisher()
    publisher.down = True
    desk = CaseDesk(records_engine, publisher, PgAuditLog(records_engine))
    before = _state(records_engine)
    with pytest.raises(BrokerError):
        desk.act("d-q2", "api_key:ana1", "legitimate")
    assert _state(records_engine) == before


def test_a_file_audit_log_fails_before_anything_is_applied(
    records_engine: Engine, tmp_path: Path
) -> None:
    publisher = Publisher()
    before = _state(records_engine)
    with pytest.raises(AuditError):
        CaseDesk(records_engine, publisher, BrokenFileAudit(tmp_path / "a.jsonl")).act(
            "d-q2", "api_key:ana1", "fraud"
        )
    assert _state(records_engine) == before and publisher.published == []

    # The file log cannot share the transaction: a rolled-back verdict gets a second entry.
    log = AuditLog(tmp_path / "audit.jsonl", clock=lambda: T0)
    publisher.down = True
    with pytest.raises(BrokerError):
        CaseDesk(records_engine, publisher, log).act("d-q2", "api_key:ana1", "fraud")
    assert _state(records_engine) == before
    actions = [line for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert len(actions) == 2 and '"case.fraud.rolled_back"' in actions[1]
    assert log.verify().problems == []
