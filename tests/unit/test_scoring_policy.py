"""Decision policy, rules and reason texts (no services)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_api import fake_service
from transactions import make_txn

from fraudlens.errors import ConfigError
from fraudlens.schema import Transaction
from fraudlens.scoring import Limit, Rules, ScoringConfig, decision_id, load_rules
from fraudlens.scoring.config import EntityLists
from fraudlens.scoring.reasons import describe_feature, top_reasons
from fraudlens.scoring.rules import decide, evaluate_rules, model_decision

CARD = "tok_demo_" + "a" * 32


def txn(**overrides: Any) -> Transaction:
    return make_txn(card_token=CARD, **overrides)


def test_model_decision_thresholds() -> None:
    assert model_decision(0.1, 0.5, 0.9) == "approve"
    assert model_decision(0.5, 0.5, 0.9) == "review"
    assert model_decision(0.95, 0.5, 0.9) == "decline"


def test_block_list_wins_over_allow_list_and_model() -> None:
    rules = Rules(
        block=EntityLists(countries=frozenset({"FR"})), allow=EntityLists(cards=frozenset({CARD}))
    )
    hits = evaluate_rules(txn(), {}, rules)
    assert {h.name for h in hits} == {"block_country", "allow_card"}
    assert decide("approve", hits) == "decline"


def test_allow_list_approves_over_model_and_limits() -> None:
    rules = Rules(
        allow=EntityLists(terminals=frozenset({"T1"})),
        limits=(Limit(name="big", field="amount", max=10, action="decline"),),
    )
    hits = evaluate_rules(txn(), {}, rules)
    assert decide("decline", hits) == "approve"


def test_limits_only_make_decisions_stricter() -> None:
    rules = Rules(
        limits=(
            Limit(name="amount_cap", field="amount", max=1000, action="decline"),
            Limit(
                name="velocity_10m",
                field="card_tx_count_10m",
                max=5,
                action="review",
                text="{value:.0f} transactions in 10 minutes (limit {max:.0f})",
            ),
        )
    )
    hits = evaluate_rules(txn(amount=50.0), {"card_tx_count_10m": 7.0}, rules)
    assert [h.name for h in hits] == ["velocity_10m"]
    assert hits[0].text == "7 transactions in 10 minutes (limit 5)"
    assert decide("approve", hits) == "review"
    assert decide("decline", hits) == "decline"
    hits = evaluate_rules(txn(amount=5000.0), {"card_tx_count_10m": 1.0}, rules)
    assert decide("approve", hits) == "decline"
    assert "5,000.00 is above the limit 1,000.00" in hits[0].text


def test_limit_on_unknown_feature_is_skipped() -> None:
    rules = Rules(limits=(Limit(name="v", field="card_tx_count_10m", max=1),))
    assert evaluate_rules(txn(), {"card_tx_count_10m": float("nan")}, rules) == []
    assert evaluate_rules(txn(), {}, rules) == []


def test_rules_file_yaml_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "block:\n  countries: [KP]\nlimits:\n"
        "  - {name: amount_cap, field: amount, max: 5000, action: decline}\n"
    )
    rules = load_rules(path)
    assert rules.block.countries == {"KP"} and rules.limits[0].max == 5000
    path.write_text(
        "limits:\n  - {name: a, field: amount, max: 1}\n  - {name: a, field: amount, max: 2}\n"
    )
    with pytest.raises(ConfigError, match="unique"):
        load_rules(path)
    with pytest.raises(ConfigError):
        load_rules(tmp_path / "missing.yaml")


def test_config_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValueError, match="must not exceed"):
        ScoringConfig.model_validate({"thresholds": {"review": 0.9, "decline": 0.5}})
    with pytest.raises(ValueError):
        ScoringConfig.model_validate({"unknown": 1})


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("card_tx_count_10m", 7, "7 transactions in the last 10 minutes"),
        ("card_tx_count_1h", 3, "3 transactions in the last hour"),
        ("card_amount_ratio_30d", 12.04, "amount 12.0x this card's usual"),
        ("card_new_terminal_30d", 1, "first time at this terminal in 30 days"),
        ("card_distinct_countries_1d", 3, "3 different countries used in the last 24 hours"),
        ("card_secs_since_prev", 45, "45 seconds since this card's previous transaction"),
        ("card_secs_since_prev", -1, "no earlier transaction on this card in 30 days"),
        (
            "card_speed_kmh_from_prev",
            2400,
            "implied travel speed of 2,400 km/h since the previous transaction",
        ),
        ("txn_is_night", 1, "at night"),
        (
            "term_fraud_rate_7d",
            0.25,
            "25.0% of this terminal's transactions in the previous 7 days were fraud",
        ),
        ("something_else", 2.5, "what it is: 2.5"),
    ],
)
def test_reason_texts(feature: str, value: float, text: str) -> None:
    assert describe_feature(feature, float(value), "what it is") == text


def test_top_reasons_keep_positive_contributions_in_order() -> None:
    names = ["card_tx_count_10m", "txn_is_night", "card_amount_ratio_30d"]
    reasons = top_reasons(
        names,
        np.array([7.0, 1.0, 12.0]),
        np.array([1.5, -0.2, 2.0]),
        k=3,
        describe=lambda name: None,
    )
    assert [r.code for r in reasons] == ["card_amount_ratio_30d", "card_tx_count_10m"]
    assert reasons[0].text == "amount 12.0x this card's usual"
    assert top_reasons(names, np.zeros(3), np.ones(3), k=0, describe=lambda n: None) == []


def test_decision_id_is_one_per_transaction_whatever_the_model_version() -> None:
    assert decision_id("t1") == decision_id("t1")
    assert decision_id("t1") != decision_id("t2")
    # A redelivered transaction scored again after a promotion: the same decision.
    txn = make_txn(transaction_id="t1")
    (before,) = fake_service("1").score([txn])
    (after,) = fake_service("2").score([txn])
    assert (before.model_version, after.model_version) == ("1", "2")
    assert before.decision_id == after.decision_id == decision_id("t1")
