"""What an analyst does to cases: verdicts (with labels), escalation, notes, bulk close.

Every action and its audit entry are one: the case changes, the case event,
the analyst label (stored in PostgreSQL) and the audit entry are written in
one database transaction, then the label is published on the labels topic (as
``POST /v1/labels`` does), and only then does the transaction commit. An audit
failure or a publish failure rolls everything back: no verdict, no label, no
entry. With the audit chain in the records database (``PgAuditLog`` on the
same database) the entry is in that very transaction; with another trail (the
file log of the embedded mode) it is appended before the publish, and a
rolled-back action gets a second entry ``<action>.rolled_back`` saying so.
A closed case can be re-labelled; every label is kept and the latest one wins
(``fraudlens.records.labels``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select

from fraudlens.errors import AuditError, ValidationError
from fraudlens.records.audit import PgAuditLog
from fraudlens.records.cases import add_case_event, set_case_status
from fraudlens.records.labels import LabelRecord, add_labels
from fraudlens.records.tables import cases, decisions
from fraudlens.schema import Label, LabelSource
from fraudlens.security.audit import AuditTrail
from fraudlens.security.pan_scan import redact

logger = logging.getLogger(__name__)

VERDICTS: dict[str, bool] = {"fraud": True, "legitimate": False}
ACTIONS: tuple[str, ...] = ("fraud", "legitimate", "escalate", "note")
MAX_NOTE = 2000


class LabelPublisher(Protocol):
    """The labels topic publisher (``ray_apps.labels.KafkaLabelPublisher``)."""

    def publish(self, labels: Sequence[Label]) -> None: ...


@dataclass
class CaseDesk:
    """Carries out analysts' actions.

    Args:
        engine: the records database.
        publisher: publishes analyst labels on the labels topic.
        audit: the audit chain (PostgreSQL in production).
        clock: the current time (tests may fix it).
    """

    engine: Engine
    publisher: LabelPublisher
    audit: AuditTrail
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def act(self, case_id: str, actor: str, action: str, note: str = "") -> None:
        """Apply ``action`` (one of ``ACTIONS``) to one case.

        Raises:
            ValidationError: unknown action, no such case, a note that is
                empty (for ``note``) or too long.
            BrokerError, ConfigError: the label could not be published (nothing changed).
            AuditError: the audit chain could not be written (nothing changed).
        """
        note = _check_note(action, note)
        if action in VERDICTS:
            self._verdict(cases.c.case_id == case_id, actor, action, note, case_id)
            return
        with self.engine.begin() as conn:
            if _lock(conn, cases.c.case_id == case_id) == []:
                raise ValidationError("case_id", f"no case {case_id!r}")
            if action == "escalate":
                set_case_status(conn, case_id, "escalated", actor, note)
            else:
                add_case_event(conn, case_id, actor, "note", note)
            self._audited(conn, actor, [(f"case.{action}", case_id, {"note": note})], lambda: None)

    def close_card(self, card_token: str, actor: str, verdict: str, note: str = "") -> int:
        """Give every open or escalated case of a card the same verdict; returns how many.

        Raises:
            ValidationError: unknown verdict, a note too long, or no open case of the card.
            BrokerError, ConfigError, AuditError: as ``act`` (nothing changed).
        """
        if verdict not in VERDICTS:
            raise ValidationError("verdict", f"{verdict!r} is not one of {sorted(VERDICTS)}")
        note = _check_note(verdict, note)
        where = (cases.c.card_token == card_token) & cases.c.status.in_(("open", "escalated"))
        return self._verdict(where, actor, verdict, note, f"card:{card_token}")

    def _verdict(self, where: object, actor: str, verdict: str, note: str, target: str) -> int:
        now = self.clock()
        is_fraud = VERDICTS[verdict]
        with self.engine.begin() as conn:
            found = _lock(conn, where)
            if not found:
                field = "card_token" if target.startswith("card:") else "case_id"
                raise ValidationError(field, f"no open case for {target!r}")
            records = []
            for case_id, transaction_id, previous in found:
                set_case_status(conn, case_id, "closed", actor, note)
                add_case_event(
                    conn, case_id, actor, f"label:{verdict}", "re-label" if previous else ""
                )
                conn.execute(
                    cases.update()
                    .where(cases.c.case_id == case_id)
                    .values(resolution=verdict, resolved_by=actor)
                )
                records.append(LabelRecord(transaction_id, is_fraud, now, "analyst", actor))
            add_labels(conn, records)
            labelled = [
                Label(
                    transaction_id=r.transaction_id,
                    is_fraud=is_fraud,
                    label_time=now,
                    source=LabelSource.ANALYST,
                    author=actor,
                )
                for r in records
            ]
            entries = [
                (
                    f"case.{verdict}",
                    case_id,
                    {"transaction_id": transaction_id, "previous": previous, "note": note},
                )
                for case_id, transaction_id, previous in found
            ]
            self._audited(conn, actor, entries, lambda: self.publisher.publish(labelled))
        logger.info("%s labelled %d case(s) %s", actor, len(found), verdict)
        return len(found)

    def _audited(
        self,
        conn: Connection,
        actor: str,
        entries: Sequence[tuple[str, str, dict[str, Any]]],
        publish: Callable[[], None],
    ) -> None:
        """Audit ``entries`` (action, target, details) in ``conn``'s transaction, then
        ``publish``; an exception from either rolls the transaction back.

        Raises:
            AuditError: the audit chain could not be written (nothing published).
        """
        audit = self.audit
        if isinstance(audit, PgAuditLog) and _same_database(audit.engine, self.engine):
            for action, target, details in entries:
                audit.append_in(conn, actor, action, target=target, details=details)
            publish()
            return
        for action, target, details in entries:
            audit.append(actor, action, target=target, details=details)
        try:
            publish()
        except Exception as exc:
            for action, target, _ in entries:
                try:
                    audit.append(
                        actor, f"{action}.rolled_back", target=target, details={"error": str(exc)}
                    )
                except AuditError:
                    logger.exception("cannot record that %s on %s was rolled back", action, target)
            raise


def _same_database(a: Engine, b: Engine) -> bool:
    return a.url.render_as_string(hide_password=False) == b.url.render_as_string(
        hide_password=False
    )


def _lock(conn: Connection, where: object) -> list[tuple[str, str, str | None]]:
    """(case id, transaction id, previous verdict) of the matching cases, locked for update."""
    stmt = (
        select(cases.c.case_id, decisions.c.transaction_id, cases.c.resolution)
        .join(decisions, decisions.c.decision_id == cases.c.decision_id)
        .where(where)  # type: ignore[arg-type]
        .order_by(cases.c.case_id)
        .with_for_update(of=cases)
    )
    return [(r[0], r[1], r[2]) for r in conn.execute(stmt)]


def _check_note(action: str, note: str) -> str:
    if action not in ACTIONS:
        raise ValidationError("action", f"{action!r} is not one of {list(ACTIONS)}")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError("note", f"longer than {MAX_NOTE} characters")
    if action == "note" and not note:
        raise ValidationError("note", "is empty")
    if "\x00" in note:
        raise ValidationError("note", "contains a NUL character")
    return redact(note)  # a card number typed into a note is never stored
