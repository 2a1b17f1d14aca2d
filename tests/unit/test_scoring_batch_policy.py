"""The batch forms of the policy give what the one-row forms give, row for row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from transactions import make_txn

from fraudlens.features.odfv import REQUEST_FIELDS, request_columns, request_fields, time_us
from fraudlens.schema import Transaction
from fraudlens.scoring.config import EntityLists, Limit, Rules
from fraudlens.scoring.result import _DECISION_NS, case_facts, decision_id
from fraudlens.scoring.rules import (
    evaluate_batch,
    evaluate_rules,
    model_decision,
    model_decisions,
)

NAMES = ["card_tx_count_10m", "card_amount_ratio_30d", "txn_amount"]


def batch(n: int = 60) -> list[Transaction]:
    rng = np.random.default_rng(3)
    return [
        make_txn(
            i,
            amount=float(rng.choice([0.0, 12.5, 480.0, 999.99, 5000.0])),
            terminal_id=f"T{i % 4}",
            merchant_id=f"M{i % 3}",
            country=["FR", "DE", "US"][i % 3],
            card_token="tok_demo_" + "abc"[i % 3] * 32,
        )
        for i in range(n)
    ]


def test_evaluate_batch_equals_evaluate_rules_row_by_row() -> None:
    txns = batch()
    rng = np.random.default_rng(5)
    values = rng.choice([0.0, 1.0, 6.0, 7.5, 20.0, np.nan], size=(len(txns), len(NAMES)))
    rules = Rules(
        block=EntityLists(terminals=frozenset({"T1"}), countries=frozenset({"US"})),
        allow=EntityLists(cards=frozenset({"tok_demo_" + "b" * 32}), merchants=frozenset({"M2"})),
        limits=(
            Limit(name="amount_cap", field="amount", max=900, action="decline"),
            Limit(name="velocity", field="card_tx_count_10m", max=5, text="{value:.0f} in 10m"),
            Limit(name="ratio", field="card_amount_ratio_30d", max=7.5),
            Limit(name="not_a_feature", field="card_unknown", max=0),
        ),
    )
    expected = [
        evaluate_rules(txn, dict(zip(NAMES, row, strict=True)), rules)
        for txn, row in zip(txns, values.tolist(), strict=True)
    ]

    assert evaluate_batch(txns, NAMES, values, rules) == expected
    assert sum(len(hits) for hits in expected) > len(txns)  # lists and limits fired
    assert evaluate_batch(txns, NAMES, values, Rules()) == [[] for _ in txns]


def test_model_decisions_equal_model_decision() -> None:
    scores = np.array([0.0, 0.2, 0.5, 0.7, 0.9, 0.95, 1.0, np.nan])
    for review, decline in ((0.5, 0.9), (0.7, 0.7), (0.0, 1.0)):
        expected = [model_decision(s, review, decline) for s in scores.tolist()]
        assert model_decisions(scores, review, decline) == expected
    assert model_decisions(scores, 0.5, 0.9)[-1] == "approve"  # NaN: decided by the caller


def test_decision_id_is_the_uuid5_of_the_transaction_id() -> None:
    for txn_id in ("t1", "", "a|b", "tx-é€-日本", "x" * 300):
        assert decision_id(txn_id) == uuid.uuid5(_DECISION_NS, txn_id).hex


def test_case_facts_are_the_named_attributes() -> None:
    txn = make_txn(card_last4="4242")
    facts = case_facts(txn)
    assert facts["card_last4"] == "4242" and facts["amount"] == 40.0
    assert facts == {name: getattr(txn, name) for name in facts}


def test_request_columns_equal_request_fields() -> None:
    paris = timezone(timedelta(hours=2))
    txns = [
        make_txn(0),
        make_txn(1, latitude=None, longitude=None),
        make_txn(2, latitude=-90.0, longitude=180.0, amount=0.0),
        make_txn(3, event_time=datetime(2026, 6, 3, 23, 59, 59, 999_999, tzinfo=paris)),
        make_txn(4, terminal_id="T-9:x.y", merchant_id="M_0", country="DE"),
    ]
    rows = [request_fields(t.model_dump()) for t in txns]
    columns = request_columns(txns)

    assert list(columns) == [name for name, _ in REQUEST_FIELDS]
    for name in columns:
        assert columns[name] == [row[name] for row in rows], name
        assert [type(v) for v in columns[name]] == [type(row[name]) for row in rows], name
    assert request_columns([]) == {name: [] for name, _ in REQUEST_FIELDS}


def test_time_us_of_utc_times_is_exact() -> None:
    when = datetime(2026, 6, 3, 12, 0, 0, 123_456, tzinfo=UTC)
    assert time_us(when) == 1_780_488_000_123_456
    assert time_us(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == -1
    assert time_us(datetime(1970, 1, 1, tzinfo=UTC)) == 0
