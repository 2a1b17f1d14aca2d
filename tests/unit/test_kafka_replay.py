"""Replay without a broker: JSON building, ordering, keys and pacing math."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from fraudlens.errors import DataError
from fraudlens.kafka import TokenBucket, encode_events, replay, replay_labels
from fraudlens.schema import Label, Transaction, parse_label, parse_transaction, to_json

TOKEN = "tok_k1_" + "a" * 32


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": ["tx-3", "tx-1", "tx-2"],
            "event_time": pd.to_datetime(
                [
                    "2026-06-01T10:00:02.500000Z",
                    "2026-06-01T10:00:00.000000Z",
                    "2026-06-01T10:00:01.000001Z",
                ]
            ),
            "card_token": [TOKEN, TOKEN[:-32] + "b" * 32, TOKEN[:-32] + "p" * 32],
            "customer_id": ["c1", "c2", "c3"],
            "terminal_id": ["t1", "t2", "t3"],
            "merchant_id": ["m1", "m2", "m3"],
            "mcc": ["5411", "5812", "6011"],
            "amount": [12.5, 0.01, 999_999.99],
            "currency": ["EUR", "USD", "GBP"],
            "channel": ["card_present", "ecommerce", "atm"],
            "entry_mode": ["chip", "ecom_3ds", "magstripe"],
            "country": ["FR", "US", "GB"],
            "latitude": [48.85, np.nan, -33.9],
            "longitude": [2.35, np.nan, 18.4],
            "device_id": [None, "dev-9", None],
            "ip_address": [None, "2001:db8::1", "10.0.0.1"],
            # ground truth that must never be published
            "is_fraud": [False, True, False],
            "fraud_scenario": [None, "card_testing", None],
            "label_time": pd.to_datetime([None, "2026-06-20T00:00:00Z", None]),
        }
    )


class FakeProducer:
    """Records what would be sent (the EventProducer interface)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.flushes = 0

    def send(self, topic: str, key: str, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def flush(self) -> None:
        self.flushes += 1


def test_encoded_transactions_match_the_schema_serialisation() -> None:
    frame = _frame()
    texts = encode_events(frame, Transaction)
    assert len(texts) == 3
    for text, (_, row) in zip(texts, frame.iterrows(), strict=True):
        parsed = parse_transaction(text, now=datetime(2026, 7, 1, tzinfo=UTC))
        data = json.loads(text)
        assert not {"is_fraud", "fraud_scenario", "label_time"} & data.keys()
        assert None not in data.values(), "missing optional values are omitted"
        assert parsed.transaction_id == row["transaction_id"]
        assert parsed.event_time == row["event_time"].to_pydatetime()
        # Same event as the pydantic path gives.
        assert parse_transaction(to_json(parsed)) == parsed
        expected = json.loads(to_json(parsed))
        # Pydantic drops a zero fraction of a second ("10:00:00Z"); same instant.
        assert expected.pop("event_time").rstrip("Z") in data.pop("event_time")
        assert expected == data


def test_times_keep_microseconds_and_naive_times_are_utc() -> None:
    frame = _frame()
    frame["event_time"] = frame["event_time"].dt.tz_localize(None)
    data = json.loads(encode_events(frame, Transaction)[2])
    assert data["event_time"] == "2026-06-01T10:00:01.000001Z"


def test_object_columns_with_python_values() -> None:
    frame = _frame().astype({"amount": object, "event_time": object})
    frame.loc[0, "amount"] = 7  # an int among floats
    frame["channel"] = pd.Categorical(frame["channel"])
    for text in encode_events(frame, Transaction):
        parse_transaction(text, now=datetime(2026, 7, 1, tzinfo=UTC))


def test_passthrough_columns_become_the_extras_object() -> None:
    frame = _frame().assign(x_device_score=[0.5, np.nan, 1e-9], x_V1=[1.0, 2.0, -3.5])
    texts = encode_events(frame, Transaction)
    parsed = [parse_transaction(t, now=datetime(2026, 7, 1, tzinfo=UTC)) for t in texts]
    # A missing value is left out: the model's default applies when scored.
    assert [p.extras for p in parsed] == [
        {"device_score": 0.5, "V1": 1.0},
        {"V1": 2.0},
        {"device_score": 1e-9, "V1": -3.5},
    ]
    assert all(parse_transaction(to_json(p)) == p for p in parsed)
    assert all("extras" not in json.loads(t) for t in encode_events(_frame(), Transaction))


def test_a_missing_required_column_is_named() -> None:
    with pytest.raises(DataError, match="amount"):
        encode_events(_frame().drop(columns=["amount"]), Transaction)


def test_strings_are_escaped() -> None:
    frame = _frame()
    frame.loc[0, "merchant_id"] = 'm"1\\'
    data = json.loads(encode_events(frame, Transaction)[0])
    assert data["merchant_id"] == 'm"1\\'


def test_replay_sends_in_event_time_order_keyed_by_card() -> None:
    frame = _frame()
    producer = FakeProducer()
    progress: list[int] = []
    result = replay(frame, producer, "transactions", progress=progress.append)  # type: ignore[arg-type]
    assert result.events == 3 and result.topic == "transactions" and result.rate > 0
    assert producer.flushes == 1
    assert progress == [3]
    ids = [json.loads(value)["transaction_id"] for _, _, value in producer.sent]
    assert ids == ["tx-1", "tx-2", "tx-3"]
    for _, key, value in producer.sent:
        assert key == json.loads(value)["card_token"]


def test_replay_labels_in_label_time_order_keyed_by_transaction() -> None:
    labels = pd.DataFrame(
        {
            "transaction_id": ["tx-2", "tx-1"],
            "is_fraud": [True, False],
            "label_time": pd.to_datetime(["2026-06-20T00:00:00Z", "2026-06-10T00:00:00Z"]),
            "source": ["chargeback", "analyst"],
            "fraud_scenario": ["stolen_card", None],
            "amount": [1.0, 2.0],  # not a label field: not published
        }
    )
    producer = FakeProducer()
    replay_labels(labels, producer, "labels")  # type: ignore[arg-type]
    assert [key for _, key, _ in producer.sent] == ["tx-1", "tx-2"]
    first, second = (parse_label(value) for _, _, value in producer.sent)
    assert first == Label(
        transaction_id="tx-1",
        is_fraud=False,
        label_time=datetime(2026, 6, 10, tzinfo=UTC),
        source="analyst",
    )
    assert second.fraud_scenario == "stolen_card" and second.is_fraud is True
    assert b"amount" not in producer.sent[0][2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_holds_the_long_run_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1_000, clock=clock, sleep=clock.sleep)
    for _ in range(5_000):
        bucket.take()
        clock.now += 0.00001  # 10 us of work per event
    assert clock.now == pytest.approx(5.0, rel=0.01)
    # Debt is slept off in chunks, not one sleep per event.
    assert all(s >= 0.002 for s in clock.slept)
    assert len(clock.slept) < 5_000 / 2


def test_token_bucket_bursts_at_most_its_capacity_after_a_pause() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, burst=10, clock=clock, sleep=clock.sleep)
    clock.now = 60.0  # a long pause must not bank a minute of tokens
    waits = [bucket.wait_time() for _ in range(11)]
    assert waits[:10] == [0.0] * 10
    assert waits[10] == pytest.approx(0.01)


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf")])
def test_token_bucket_refuses_bad_rates(rate: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate)


def test_wait_time_math() -> None:
    clock = FakeClock()
    bucket = TokenBucket(50, burst=1, clock=clock, sleep=clock.sleep)
    assert bucket.wait_time() == pytest.approx(0.02)  # starts empty: 1/50 s per event
    clock.now += 0.02
    assert bucket.wait_time(2) == pytest.approx(0.04)
