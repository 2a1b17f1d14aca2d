"""Decisions are stored once per id; the latest label of a transaction wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from fraudlens.errors import ValidationError
from fraudlens.records import (
    LabelRecord,
    add_labels,
    count_decisions,
    decision_row,
    decisions_for_card,
    latest_labels,
    upsert_decisions,
)
from fraudlens.scoring.result import Reason
from fraudlens.scoring.stream import DecisionEvent

pytestmark = pytest.mark.integration
T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _event(i: int, card: str = "tok_card_a", decision: str = "approve") -> DecisionEvent:
    return DecisionEvent.model_validate(
        {
            "decision_id": f"dec-{i:04d}",
            "transaction_id": f"tx-{i:04d}",
            "event_time": T0 + timedelta(minutes=i),
            "card_token": card,
            "score": 0.01 * i,
            "decision": decision,
            "reasons": [
                Reason(kind="rule", code="blocked_terminal", text="terminal on block list"),
                Reason(kind="model", code="amount", text="large amount", value=900.0),
            ],
            "model_version": "3",
            "degraded": False,
            "scored_at": T0 + timedelta(minutes=i, seconds=1),
            "source": "api",
        }
    )


def test_upsert_is_idempotent_and_keeps_the_first_write(records_engine: Engine) -> None:
    rows = [decision_row(_event(i)) for i in range(5)]
    with records_engine.begin() as conn:
        before = count_decisions(conn)
        assert upsert_decisions(conn, rows) == 5
    changed = decision_row(_event(2, decision="decline"))
    with records_engine.begin() as conn:
        # Redelivered batch, plus a duplicate inside the batch itself: nothing new.
        assert upsert_decisions(conn, [*rows, rows[0], changed]) == 0
        assert count_decisions(conn) == before + 5
        stored = decisions_for_card(conn, "tok_card_a")
    by_id = {r["decision_id"]: r for r in stored}
    assert by_id["dec-0002"]["decision"] == "approve"
    assert by_id["dec-0003"]["rule_hits"] == ["blocked_terminal"]
    assert by_id["dec-0003"]["reasons"][1]["value"] == 900.0
    assert [r["decision_id"] for r in stored][:2] == ["dec-0004", "dec-0003"]


def test_latest_label_wins(records_engine: Engine) -> None:
    labels = [
        LabelRecord("tx-l1", True, T0 + timedelta(days=10), "chargeback"),
        LabelRecord("tx-l1", False, T0 + timedelta(days=12), "analyst", author="ana"),
        LabelRecord("tx-l2", False, T0 + timedelta(days=3), "analyst", author="bob"),
        # Same time as the first: the one stored later wins.
        LabelRecord("tx-l2", True, T0 + timedelta(days=3), "api", author="svc"),
        LabelRecord("tx-l3", True, T0 + timedelta(days=20), "customer_report"),
        LabelRecord("tx-l3", False, T0 + timedelta(days=5), "analyst"),  # older: loses
    ]
    with records_engine.begin() as conn:
        assert add_labels(conn, labels) == 6
        assert add_labels(conn, labels[:2]) == 0  # redelivered: stored once
        latest = latest_labels(conn, ["tx-l1", "tx-l2", "tx-l3", "tx-none"])
        everything = latest_labels(conn)
    assert {k: v.is_fraud for k, v in latest.items()} == {
        "tx-l1": False,
        "tx-l2": True,
        "tx-l3": True,
    }
    assert latest["tx-l1"].author == "ana" and latest["tx-l2"].source == "api"
    assert {"tx-l1", "tx-l2", "tx-l3"} <= set(everything)


def test_bad_labels_are_refused_whole(records_engine: Engine) -> None:
    good = LabelRecord("tx-ok", True, T0, "analyst")
    with records_engine.begin() as conn:
        with pytest.raises(ValidationError, match="source"):
            add_labels(conn, [good, LabelRecord("tx-b", True, T0, "rumour")])
        with pytest.raises(ValidationError, match="label_time"):
            add_labels(conn, [LabelRecord("tx-b", True, datetime(2026, 6, 1), "api")])
        with pytest.raises(ValidationError, match="transaction_id"):
            add_labels(conn, [LabelRecord("", True, T0, "api")])
        assert latest_labels(conn, ["tx-ok"]) == {}
