"""The decisions topic's bytes without a model per row: ``decision_json`` is
byte for byte ``DecisionEvent(...).model_dump_json()``; results' features are lazy rows."""

from __future__ import annotations

import copy
import math
import pickle
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from transactions import CARD, make_txn

from fraudlens.schema import Transaction
from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.config import EntityLists, Limit, Rules
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.scoring.result import FeatureRow, Reason, ScoreResult, case_facts
from fraudlens.scoring.stream import decision_event, decision_json

SCORED_AT = datetime(2026, 6, 3, 15, 0, 0, 123456, tzinfo=UTC)
RATES = (0.0, 0.5, 1.0)
OTHER_CARD = "tok_demo_" + "c" * 32
RULES = Rules(
    block=EntityLists(terminals=frozenset({"T9"})),
    limits=(
        Limit(name="amount_cap", field="amount", max=300, action="review"),
        Limit(name="burst", field="card_tx_count_10m", max=2, action="decline"),
    ),
)


def _txns() -> list[Transaction]:
    out = []
    for i in range(40):
        out.append(
            make_txn(
                i,
                step=timedelta(seconds=7.000123),
                amount=[12.5, 999.99, 40.0, 0.01][i % 4] * (1 + i),
                terminal_id="T9" if i % 11 == 3 else "T1",
                card_token=CARD if i % 3 == 0 else OTHER_CARD,
                channel=["card_present", "ecommerce"][i % 2],
                entry_mode=["chip", "ecom_3ds"][i % 2],
                card_last4=None if i % 5 == 0 else f"{i:04d}",
            )
        )
    return out


def _scored(down: bool = False, fail: bool = False) -> list[ScoreResult]:
    """Results of the real scoring code: rules, reasons, degraded rows, None scores."""
    features = FakeFeatures({CARD: {"card_tx_count_10m": 3.0}})
    features.down = down
    model = FakeModel("1")
    service = ScoringService(FakeLoader([model], {"champion": "1"}), features)
    service.apply_config(ScoringConfig(rules=RULES))
    model.fail = fail  # after the load's probe: no usable score
    return service.score(_txns())


def _made() -> list[ScoreResult]:
    """Hand-made results with the values the scorer never makes (non-finite, ints, offsets)."""
    values = np.array([[1.5, math.nan, math.inf], [-math.inf, 0.0, 1e16], [1e-7, -0.0, 3.0]])
    names = ("a", "b", "c")
    reasons = [
        Reason(kind="model", code="a", text='a "quoted" café', value=math.nan, contribution=0.5),
        Reason(kind="system", code="degraded", text="x"),
    ]
    out = []
    for i in range(3):
        txn = make_txn(i)
        out.append(
            ScoreResult(
                transaction_id=f'tx-é-"{i}"\\n',  # escapes: never from the schema, still equal
                decision_id=f"d{i}",
                event_time=datetime(2026, 6, 3, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=2))),
                card_token=txn.card_token,
                score=[1, 0.1 + 0.2, None][i],  # type: ignore[arg-type]  # an int from elsewhere
                decision="review",
                reasons=reasons[: i + 1],
                model_version="v-7",
                degraded=i == 2,
                thresholds=(0.5, 0.9),
                features=FeatureRow(names, values, i) if i < 2 else {"a": 1.0, "b": math.nan},
                transaction=case_facts(txn) if i else {},
            )
        )
    return out


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("source", ["stream", "api"])
def test_decision_json_is_the_event_models_json(rate: float, source: str) -> None:
    results = _scored() + _scored(down=True) + _scored(down=True, fail=True) + _made()
    assert any(r.score is None for r in results) and any(r.degraded for r in results)
    assert any(r.rule_hits for r in results) and any(r.reasons for r in results)
    for result in results:
        event = decision_event(result, SCORED_AT, source, rate)
        assert decision_json(result, SCORED_AT, source, rate) == event.model_dump_json().encode()


def test_the_comparison_sees_sampled_features_and_non_finite_values() -> None:
    made = _made()
    sent = decision_json(made[0], SCORED_AT, feature_sample_rate=1.0)
    assert b'"features":{"a":1.5,"b":null,"c":null}' in sent
    assert b'"score":1.0' in sent and b'"value":null' in sent
    assert b'"features":null' in decision_json(made[0], SCORED_AT)


def test_case_facts_are_the_analysts_fields_with_enum_values_as_text() -> None:
    txn = make_txn(channel="ecommerce", entry_mode="ecom_3ds", card_last4="0042")
    facts = case_facts(txn)
    names = ["card_last4", "amount", "currency", "terminal_id", "merchant_id", "mcc"]
    names += ["channel", "entry_mode", "country"]  # no card token, device or IP
    assert list(facts) == names and facts == {name: getattr(txn, name) for name in names}
    assert type(facts["channel"]) is str and facts["channel"] == "ecommerce"
    assert type(facts["entry_mode"]) is str and facts["entry_mode"] == "ecom_3ds"


def test_results_features_are_the_rows_of_the_scored_matrix() -> None:
    results = _scored()
    names = list(FakeModel().feature_names)
    first = results[0].features
    assert isinstance(first, FeatureRow) and len(first) == len(names)
    assert list(first) == names and list(first.keys()) == names
    assert first["card_tx_count_10m"] == 3.0 and first.get("nope") is None
    assert all(type(v) is float for v in first.values())
    assert first == dict(first.items()) and dict(first.items()) == first
    assert results[1].features != first  # another row: another amount


def test_a_feature_row_copies_and_pickles_as_a_plain_dict() -> None:
    values = np.array([[1.0, 2.0], [3.0, 4.0]])
    row = FeatureRow(("x", "y"), values, 1)
    for twin in (pickle.loads(pickle.dumps(row)), copy.deepcopy(row), copy.copy(row)):
        assert type(twin) is dict and twin == {"x": 3.0, "y": 4.0}
    assert repr(row) == "{'x': 3.0, 'y': 4.0}"
