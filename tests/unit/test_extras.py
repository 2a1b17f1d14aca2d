"""Passthrough columns: the mapping's ``extras``, the importer's columns, the request field."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudlens.errors import ConfigError, ValidationError
from fraudlens.features.extras import declared, fill_request_extras, model_defaults
from fraudlens.importer import import_transactions, load_mapping
from fraudlens.schema import extra_value, parse_transaction
from fraudlens.security import KeyRing, Tokenizer

BASE = """
columns:
  transaction_id: id
  event_time: when
  card_reference: card
  customer_id: cust
  terminal_id: term
  merchant_id: merch
  amount: amount
  is_fraud: fraud
defaults:
  currency: EUR
  channel: card_present
  entry_mode: chip
  country: FR
  mcc: "5411"
"""


def mapping_file(tmp_path: Path, extras: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(BASE + extras)
    return path


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        ("extras:\n  numeric:\n    1score: 0.0\n", "extras.numeric: extra '1score': a name is"),
        ("extras:\n  numeric:\n    bad-name: 0.0\n", "extra 'bad-name': a name is"),
        ("extras:\n  numeric:\n    amount: 0.0\n", "extra 'amount': clashes with a built-in"),
        (
            "extras:\n  numeric:\n    card_tx_count_1d: 0\n",
            "extra 'card_tx_count_1d': clashes with a built-in",
        ),
        ("extras:\n  numeric:\n    score: .nan\n", "extra score: must be a finite number"),
        ("extras:\n  numeric:\n    score: .inf\n", "extra score: must be a finite number"),
        ("extras:\n  numeric:\n    score: high\n", "extra score: not a number: 'high'"),
        ("extras:\n  categorical: [segment]\n", "extras.categorical: a mapping of your text"),
        ("extras:\n  categorical:\n    seg: ''\n", "extra seg: needs a default text"),
        ("extras:\n  categorical:\n    seg__1: a\n", "extra 'seg__1': __ is kept"),
        ("extras:\n  categorical:\n    amount: a\n", "extra 'amount': clashes with a built-in"),
        (f"extras:\n  categorical:\n    seg: {'a' * 65}\n", "extra seg: text longer than 64"),
        (
            "extras:\n  numeric:\n    seg: 0\n  categorical:\n    seg: a\n",
            "extra(s) seg declared both numeric and categorical",
        ),
        ("extras:\n  numerics:\n    score: 0\n", "extras.numerics"),
    ],
)
def test_bad_extras_mapping_fails_naming_the_key(tmp_path: Path, extras: str, message: str) -> None:
    with pytest.raises(ConfigError, match="invalid mapping") as info:
        load_mapping(mapping_file(tmp_path, extras))
    assert message in str(info.value)


def test_good_extras_mapping(tmp_path: Path) -> None:
    mapping = load_mapping(
        mapping_file(tmp_path, "extras:\n  numeric:\n    device_score: 0.5\n    V1: 0\n")
    )
    assert mapping.extras.numeric == {"device_score": 0.5, "V1": 0.0}
    assert load_mapping(mapping_file(tmp_path, "")).extras.numeric == {}
    both = load_mapping(
        mapping_file(tmp_path, "extras:\n  numeric:\n    V1: 0\n  categorical:\n    seg: 12\n")
    )
    # A default written as a number is the text of the number.
    assert both.extras.categorical == {"seg": "12"}
    assert both.extras.names == ["V1", "seg"]


def test_import_writes_extra_columns_and_rejects_bad_values_naming_the_column(
    tmp_path: Path,
) -> None:
    mapping = load_mapping(
        mapping_file(tmp_path, "extras:\n  numeric:\n    device_score: 0.25\n    V1: -1\n")
    )
    rows = [
        ("t1", "0.9", "1.5"),
        ("t2", "", "2"),  # empty cell: the declared default
        ("t3", "high", "0"),  # not a number: rejected, naming the column
        ("t4", "0.1", "inf"),  # not finite: rejected
        ("t5", "0.3", ""),
    ]
    frame = pd.DataFrame(
        [
            {
                "id": tid,
                "when": f"2026-05-0{i + 1} 10:00:00",
                "card": "ref-1",
                "cust": "C1",
                "term": "T1",
                "merch": "M1",
                "amount": "10",
                "fraud": "0",
                "device_score": score,
                "V1": v1,
            }
            for i, (tid, score, v1) in enumerate(rows)
        ]
    )
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    result = import_transactions(
        source,
        mapping,
        tmp_path / "out",
        Tokenizer("k1", {"k1": b"k" * 32}),
        keyring=KeyRing("e1", {"e1": b"e" * 32}),
    )

    assert (result.accepted, result.rejected) == (3, 2)
    assert result.extra_columns == ("x_device_score", "x_V1")
    txns = pd.read_parquet(result.transactions_path)
    assert txns["transaction_id"].tolist() == ["t1", "t2", "t5"]
    assert txns["x_device_score"].tolist() == [0.9, 0.25, 0.3]
    assert txns["x_V1"].tolist() == [1.5, 2.0, -1.0]
    assert txns["x_device_score"].dtype == np.float64
    assert "extras" not in txns.columns
    assert result.rejects_path is not None
    rejects = pd.read_parquet(result.rejects_path)
    assert rejects["field"].tolist() == ["extras.device_score", "extras.V1"]
    assert "not a number: 'high'" in rejects["reason"].iloc[0]
    assert "finite" in rejects["reason"].iloc[1]
    info = json.loads((tmp_path / "out" / "import.json").read_text())
    assert declared(info).numeric == {"device_score": 0.25, "V1": -1.0}
    assert declared(info).categorical == {}


def test_import_without_the_extra_column_fails(tmp_path: Path) -> None:
    from fraudlens.errors import DataError

    mapping = load_mapping(mapping_file(tmp_path, "extras:\n  numeric:\n    device_score: 0\n"))
    source = tmp_path / "in.csv"
    pd.DataFrame([{c: "x" for c in ("id", "when", "card", "cust", "term", "merch")}]).assign(
        amount="1", fraud="0"
    ).to_csv(source, index=False)
    with pytest.raises(DataError, match="device_score"):
        import_transactions(
            source,
            mapping,
            tmp_path / "out",
            Tokenizer("k1", {"k1": b"k" * 32}),
            keyring=KeyRing("e1", {"e1": b"e" * 32}),
        )


TXN = {
    "transaction_id": "t1",
    "event_time": "2026-06-01T10:00:00Z",
    "card_token": "tok_k1_" + "a" * 32,
    "customer_id": "C1",
    "terminal_id": "T1",
    "merchant_id": "M1",
    "mcc": "5411",
    "amount": 10.0,
    "currency": "EUR",
    "channel": "card_present",
    "entry_mode": "chip",
    "country": "FR",
}


def test_transaction_extras_are_finite_numbers_or_short_text_named_in_errors() -> None:
    txn = parse_transaction(
        {**TXN, "extras": {"device_score": 0.3, "V1": 2, "device_type": " mobile "}}
    )
    assert txn.extras == {"device_score": 0.3, "V1": 2.0, "device_type": "mobile"}
    assert parse_transaction(TXN).extras is None
    for extras, message in [
        ({"device_score": True}, "extra device_score: not a number or text"),
        ({"device_score": None}, "extra device_score: not a number or text"),
        ({"device_type": ""}, "extra device_type: empty text"),
        ({"device_type": "x" * 65}, "extra device_type: text longer than 64"),
        ({"device_type": "a\nb"}, "extra device_type: text with control characters"),
        ({"device_type": "4111 1111 1111 1111"}, "extra device_type: holds a card number"),
        ({"device_score": float("inf")}, "extra device_score: must be a finite number"),
        ({"device_score": 10**400}, "extra device_score: must be a finite number"),
        ({"bad name": 1.0}, "extra 'bad name'"),
        ([1.0], "must be an object"),
    ]:
        with pytest.raises(ValidationError) as info:
            parse_transaction({**TXN, "extras": extras})
        assert info.value.field == "extras"
        assert message in info.value.reason
    # Infinity as it arrives in JSON text
    with pytest.raises(ValidationError, match="finite"):
        parse_transaction(json.dumps({**TXN, "extras": {"s": math.inf}}))


def test_extra_value_is_the_one_check_of_events_and_imports() -> None:
    """Events take JSON numbers only; imported cells and mapping defaults may be text."""
    assert extra_value("s", 2) == 2.0 and extra_value("s", np.float64(0.5)) == 0.5
    assert extra_value("s", " 0.25 ", numbers_only=False) == 0.25
    assert extra_value("s", np.int64(3), numbers_only=False) == 3.0
    for value, numbers_only, message in [
        ("0.25", True, "extra s: not a number: '0.25'"),
        (True, True, "extra s: not a number: True"),
        (False, False, "extra s: not a number: False"),
        ("high", False, "extra s: not a number: 'high'"),
        (None, False, "extra s: not a number: None"),
        (math.nan, True, "extra s: must be a finite number, got nan"),
        ("-inf", False, "extra s: must be a finite number, got '-inf'"),
        (10**5000, False, "extra s: must be a finite number, got one beyond float range"),
    ]:
        with pytest.raises(ValueError) as info:
            extra_value("s", value, numbers_only=numbers_only)
        assert str(info.value) == message


def test_fill_request_extras_takes_sent_values_then_the_model_default() -> None:
    frame = pd.DataFrame({"txn_amount": [1.0, 2.0, 3.0], "x_score": np.nan, "x_other": np.nan})
    sent = [{"score": 0.9, "unknown": 5.0}, None, {"other": 1.0}]
    fill_request_extras(frame, sent, {"score": 0.1})
    assert frame["x_score"].tolist() == [0.9, 0.1, 0.1]
    # No declared default: stays missing (the row is scored as degraded).
    assert math.isnan(frame["x_other"].iloc[0]) and frame["x_other"].iloc[2] == 1.0
    assert frame["txn_amount"].tolist() == [1.0, 2.0, 3.0]


def test_model_defaults_read_the_metadata() -> None:
    class Model:
        metadata = {"extras": {"score": 0.5}}

    assert model_defaults(Model()) == {"score": 0.5}
    assert model_defaults(object()) == {}


def test_the_challenger_in_shadow_gets_the_request_extras_with_its_own_default() -> None:
    from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
    from fraudlens.scoring.shadow import ChampionRow, ShadowBatch, ShadowScorer

    weights = {"txn_amount": 0.0, "x_device_score": 8.0}
    challenger = FakeModel("2", weights=weights, metadata={"extras": {"device_score": 1.0}})
    shadow = ShadowScorer(
        FakeLoader([FakeModel("1"), challenger], {"challenger": "2"}), FakeFeatures(), None
    )
    assert shadow.load() is challenger
    txns = [
        parse_transaction({**TXN, "transaction_id": "a", "extras": {"device_score": 0.0}}),
        parse_transaction({**TXN, "transaction_id": "b"}),  # none sent: the default, 1.0
    ]
    # The champion's vector lacks the challenger's extra.
    champion_frame = pd.DataFrame({"txn_amount": [10.0, 10.0]})
    rows = [ChampionRow(t.transaction_id, t.event_time, 0.1, "approve", "1") for t in txns]
    assert shadow.score(ShadowBatch(txns, champion_frame, rows)) == 2
    frame = shadow._frame(challenger, ShadowBatch(txns, champion_frame, rows))
    assert frame["x_device_score"].tolist() == [0.0, 1.0]
    assert shadow.stats["agree"] == 1 and shadow.stats["errors"] == 0
