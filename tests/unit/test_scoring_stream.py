"""The stream scorer's handler with fakes: decisions published, ids idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from transactions import make_txn

from fraudlens.errors import BrokerError
from fraudlens.kafka.consumer import ConsumedEvent
from fraudlens.schema import Label, Transaction, parse_transaction, to_json
from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.scoring.stream import DECISION_ID_HEADER, StreamScorer

CARD = "tok_demo_" + "d" * 32


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes, dict[str, str]]] = []
        self.flushes = 0
        self.fail = False

    def send(self, topic: str, key: str, value: bytes, headers: Any = None) -> None:
        self.sent.append((topic, key, value, dict(headers or [])))

    def flush(self, timeout: float = 60.0) -> None:
        if self.fail:
            raise BrokerError("not delivered")
        self.flushes += 1


def txn(i: int) -> Transaction:
    return make_txn(
        i,
        transaction_id=f"s{i}",
        event_time=datetime(2026, 6, 3, tzinfo=UTC) + timedelta(seconds=i),
        card_token=CARD,
        amount=10.0 + i,
        channel="ecommerce",
        entry_mode="ecom_3ds",
    )


def consumed(events: list[Any]) -> list[ConsumedEvent]:
    return [ConsumedEvent(e, "transactions", 0, i) for i, e in enumerate(events)]


def make() -> tuple[StreamScorer, Producer, FakeLoader]:
    loader = FakeLoader([FakeModel("1"), FakeModel("2")], {"champion": "1"})
    service = ScoringService(loader, FakeFeatures())
    service.apply_config(ScoringConfig())
    producer = Producer()
    return StreamScorer(service, producer, "decisions", model_poll_s=0), producer, loader  # type: ignore[arg-type]


def test_publishes_one_decision_per_transaction_then_flushes() -> None:
    scorer, producer, _ = make()
    label = Label(
        transaction_id="s0",
        is_fraud=True,
        label_time=datetime(2026, 6, 9, tzinfo=UTC),
        source="analyst",
    )
    scorer(consumed([txn(0), txn(1), txn(0), label]))
    assert producer.flushes == 1 and scorer.scored == 2
    topics = {s[0] for s in producer.sent}
    assert topics == {"decisions"}
    events = [json.loads(s[2]) for s in producer.sent]
    assert [e["transaction_id"] for e in events] == ["s0", "s1"]
    assert all(e["model_version"] == "1" and e["source"] == "stream" for e in events)
    assert producer.sent[0][1] == CARD
    assert producer.sent[0][3][DECISION_ID_HEADER] == events[0]["decision_id"]


def test_redelivery_gives_the_same_decision_ids() -> None:
    scorer, producer, _ = make()
    scorer(consumed([txn(0), txn(1)]))
    first = [json.loads(s[2])["decision_id"] for s in producer.sent]
    producer.sent.clear()
    scorer(consumed([txn(0), txn(1)]))
    assert [json.loads(s[2])["decision_id"] for s in producer.sent] == first


def test_delivery_failure_propagates_so_nothing_is_committed() -> None:
    scorer, producer, _ = make()
    producer.fail = True
    try:
        scorer(consumed([txn(0)]))
    except BrokerError:
        pass
    else:
        raise AssertionError("the handler must raise when decisions are not delivered")


def test_alias_move_is_picked_up_between_batches() -> None:
    scorer, producer, loader = make()
    scorer.model_poll_s = 1e-9
    loader.aliases["champion"] = "2"
    scorer(consumed([txn(5)]))
    assert json.loads(producer.sent[-1][2])["model_version"] == "2"


def test_extras_travel_in_the_event_and_reach_the_model() -> None:
    weights = {"txn_amount": 0.0, "x_device_score": 8.0}
    model = FakeModel("1", weights=weights, metadata={"extras": {"device_score": 0.0}})
    service = ScoringService(FakeLoader([model], {"champion": "1"}), FakeFeatures())
    service.apply_config(ScoringConfig(max_reasons=0))
    producer = Producer()
    scorer = StreamScorer(service, producer, "decisions", model_poll_s=0)  # type: ignore[arg-type]
    sent = txn(0).model_copy(update={"extras": {"device_score": 0.9}})
    wire = [to_json(sent), to_json(txn(1))]  # as the events travel on Kafka
    assert b'"extras":{"device_score":0.9}' in wire[0] and b"extras" not in wire[1]
    scorer(consumed([parse_transaction(raw) for raw in wire]))
    scores = [json.loads(s[2])["score"] for s in producer.sent]
    assert scores[0] > 0.9 > 0.5 > scores[1]


def test_categorical_extras_travel_as_text_in_the_event_and_reach_the_model() -> None:
    weights = {"txn_amount": 0.0, "x_device__0": 8.0, "x_device__other": 0.0}
    vocabulary = {"device": {"default": "desktop", "values": ["emulator"]}}
    model = FakeModel("1", weights=weights, metadata={"categorical": vocabulary})
    service = ScoringService(FakeLoader([model], {"champion": "1"}), FakeFeatures())
    service.apply_config(ScoringConfig(max_reasons=0))
    producer = Producer()
    scorer = StreamScorer(service, producer, "decisions", model_poll_s=0)  # type: ignore[arg-type]
    sent = txn(0).model_copy(update={"extras": {"device": "emulator"}})
    wire = [to_json(sent), to_json(txn(1))]  # the second has none: the default, desktop
    assert b'"extras":{"device":"emulator"}' in wire[0]
    scorer(consumed([parse_transaction(raw) for raw in wire]))
    scores = [json.loads(s[2])["score"] for s in producer.sent]
    assert scores[0] > 0.9 > 0.5 > scores[1]


def test_sampled_decisions_carry_their_features() -> None:
    scorer, producer, _ = make()
    scorer(consumed([txn(0)]))
    assert json.loads(producer.sent[0][2])["features"] is None  # rate 0 unless configured
    producer.sent.clear()
    scorer.feature_sample_rate = 1.0
    scorer(consumed([txn(0), txn(1)]))
    vectors = [json.loads(s[2])["features"] for s in producer.sent]
    assert all(v and all(isinstance(x, float) for x in v.values()) for v in vectors)
