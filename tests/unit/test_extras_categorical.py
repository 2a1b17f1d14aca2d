"""Categorical passthrough columns: vocabulary, one-hot expansion, import, replay, card."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_extras import mapping_file

from fraudlens.features.categories import (
    Vocabulary,
    category_text,
    from_metadata,
    learn,
    learn_vocabulary,
    onehot_names,
    reason_text,
    to_metadata,
    with_onehot,
)
from fraudlens.features.extras import declared, fill_request_extras
from fraudlens.importer import import_transactions, load_mapping
from fraudlens.kafka.replay import encode_events
from fraudlens.schema import Transaction, parse_transaction
from fraudlens.security import KeyRing, Tokenizer

DEVICE = Vocabulary("device", "desktop", ("mobile", "desktop"))


def test_vocabulary_keeps_frequent_values_most_frequent_first_within_the_bound() -> None:
    raw = ["a"] * 5 + ["b"] * 7 + ["c"] * 5 + ["d"] * 2 + [None] * 3
    vocab = learn_vocabulary("seg", "z", raw, min_count=3, max_categories=10)
    # Missing counts as the default (z: 3 rows); ties are ordered by text.
    assert vocab.values == ("b", "a", "c", "z")
    assert learn_vocabulary("seg", "z", raw, 3, 2).values == ("b", "a")
    assert learn_vocabulary("seg", "z", raw, 6, 10).values == ("b",)
    assert learn_vocabulary("seg", "z", raw, 8, 10).values == ()


def test_encode_puts_unseen_values_in_other_and_missing_ones_on_the_default() -> None:
    rows = DEVICE.encode(["mobile", "desktop", "smart fridge", None, float("nan"), " mobile "])
    assert rows.tolist() == [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],  # unseen: other
        [0, 1, 0],  # missing: the default, desktop
        [0, 1, 0],
        [1, 0, 0],
    ]
    assert DEVICE.columns == ["x_device__0", "x_device__1", "x_device__other"]
    # A vocabulary without any value still has its other column.
    assert Vocabulary("seg", "a", ()).encode(["a", "b"]).tolist() == [[1.0], [1.0]]


def test_a_training_column_and_a_request_list_encode_alike() -> None:
    vocab = Vocabulary("seg", "7", ("12", "a", "7"))
    raw = ["a", 12, 12.0, "12", None, float("nan"), "b", " a ", 7]
    column = pd.Series(raw, index=range(10, 19), dtype=object)
    assert vocab.encode(column).tolist() == vocab.encode(raw).tolist()
    assert vocab.encode(raw).argmax(axis=1).tolist() == [1, 0, 0, 0, 2, 2, 3, 1, 2]
    assert vocab.encode([]).shape == (0, 4)


def test_numbers_are_the_text_of_the_number() -> None:
    assert [category_text(v) for v in (12, 12.0, np.int64(7), 2.5, " x ", "", None)] == [
        "12",
        "12",
        "7",
        "2.5",
        "x",
        None,
        None,
    ]
    assert category_text(float("nan")) is None and category_text(pd.NA) is None
    # A nullable text column (as Parquet may give it) encodes like an object one.
    text = pd.Series(["mobile", None, "desktop"], dtype="string")
    assert DEVICE.encode(text).tolist() == DEVICE.encode(["mobile", None, "desktop"]).tolist()


def test_with_onehot_and_learn_use_the_raw_columns_and_keep_the_rest() -> None:
    frame = pd.DataFrame({"amount": [1.0, 2.0, 3.0], "x_device": ["mobile", "tablet", "mobile"]})
    [vocab] = learn(frame, {"device": "desktop"}, min_count=2, max_categories=5)
    assert vocab == Vocabulary("device", "desktop", ("mobile",))
    out = with_onehot(frame, [vocab])
    assert list(out.columns) == ["amount", "x_device", "x_device__0", "x_device__other"]
    assert out["x_device__0"].tolist() == [1.0, 0.0, 1.0]
    assert onehot_names([vocab, DEVICE])[-1] == "x_device__other"
    assert from_metadata({"categorical": to_metadata([DEVICE])}) == [DEVICE]
    assert from_metadata(None) == [] and from_metadata({"categorical": None}) == []


def test_request_fill_uses_the_same_encoding_as_training() -> None:
    frame = pd.DataFrame(
        {"txn_amount": [1.0, 2.0, 3.0, 4.0], "x_score": np.nan, **dict.fromkeys(DEVICE.columns)}
    )
    sent = [{"device": "mobile", "score": "0.5"}, None, {"device": "vr headset"}, {"score": "hi"}]
    fill_request_extras(frame, sent, {"score": 0.1}, [DEVICE])
    expected = DEVICE.encode(["mobile", None, "vr headset", None])
    assert frame[DEVICE.columns].to_numpy().tolist() == expected.tolist()
    # A numeric extra sent as number text is the number; other text is missing (degraded).
    assert frame["x_score"].tolist()[:3] == [0.5, 0.1, 0.1]
    assert np.isnan(frame["x_score"].iloc[3])


def test_reasons_name_the_extra_and_the_value_sent() -> None:
    say = reason_text([DEVICE], {"device": "tablet"})
    assert say("x_device__other", 1.0) == "device is 'tablet', a value rare or unseen in training"
    assert say("x_device__0", 0.0) == "device is 'tablet', not 'mobile'"
    assert say("txn_amount", 5.0) is None
    assert reason_text([DEVICE], None)("x_device__1", 1.0) == "device is 'desktop'"


def test_import_writes_text_columns_and_rejects_bad_cells_naming_the_extra(
    tmp_path: Path, pan_fixture_path: Callable[[str], Path]
) -> None:
    mapping = load_mapping(
        mapping_file(tmp_path, "extras:\n  categorical:\n    device: unknown\n    seg: '0'\n")
    )
    cells = [
        ("t1", "mobile", "3"),
        ("t2", "", "4"),  # empty: the default
        ("t3", "x" * 65, "1"),  # too long: rejected
        ("t4", "4111 1111 1111 1111", "1"),  # a card number: rejected, value not repeated
        ("t5", " tablet ", ""),
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
                "device": device,
                "seg": seg,
            }
            for i, (tid, device, seg) in enumerate(cells)
        ]
    )
    source = pan_fixture_path("in.csv")  # holds a card number on purpose
    frame.to_csv(source, index=False)
    result = import_transactions(
        source,
        mapping,
        tmp_path / "out",
        Tokenizer("k1", {"k1": b"k" * 32}),
        keyring=KeyRing("e1", {"e1": b"e" * 32}),
    )
    assert (result.accepted, result.rejected) == (3, 2)
    assert result.extra_columns == ("x_device", "x_seg")
    txns = pd.read_parquet(result.transactions_path)
    assert txns["x_device"].tolist() == ["mobile", "unknown", "tablet"]
    assert txns["x_seg"].tolist() == ["3", "4", "0"]
    assert result.rejects_path is not None
    rejects = pd.read_parquet(result.rejects_path)
    assert rejects["field"].tolist() == ["extras.device", "extras.device"]
    assert "longer than 64" in rejects["reason"].iloc[0]
    assert "card number" in rejects["reason"].iloc[1] and "1111" not in rejects["reason"].iloc[1]
    info = json.loads((tmp_path / "out" / "import.json").read_text())
    assert declared(info).categorical == {"device": "unknown", "seg": "0"}

    # Replayed to Kafka, the text columns travel in the event's extras.
    texts = encode_events(txns, Transaction)
    parsed = [parse_transaction(t, now=datetime(2026, 7, 1, tzinfo=UTC)) for t in texts]
    assert [p.extras for p in parsed] == [
        {"device": "mobile", "seg": "3"},
        {"device": "unknown", "seg": "4"},
        {"device": "tablet", "seg": "0"},
    ]


@pytest.mark.parametrize("value", [1.5, "mobile"])
def test_replay_mixes_numeric_and_text_extras(value: object) -> None:
    frame = pd.DataFrame({"x_a": [value, None], "x_b": [1.0, np.nan]})
    from fraudlens.kafka.replay import _encoded_extras

    out = list(_encoded_extras(frame))
    assert json.loads("{" + out[0].lstrip(",") + "}")["extras"] == {"a": value, "b": 1.0}
    assert out[1] == ""
