"""EventProducer with a fake librdkafka producer (no broker)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

import fraudlens.kafka.producer as producer_module
from fraudlens.errors import BrokerError
from fraudlens.kafka import EventProducer, event_key
from fraudlens.schema import Label, Transaction
from fraudlens.settings import KafkaSettings

KAFKA = KafkaSettings(bootstrap_servers="fake:9092")
TXN = Transaction(
    transaction_id="tx-1",
    event_time=datetime(2026, 6, 1, tzinfo=UTC),
    card_token="tok_k1_" + "b" * 32,
    customer_id="c1",
    terminal_id="t1",
    merchant_id="m1",
    mcc="5411",
    amount=10.0,
    currency="EUR",
    channel="ecommerce",
    entry_mode="ecom_3ds",
    country="DE",
)
LABEL = Label(
    transaction_id="tx-1",
    is_fraud=True,
    label_time=datetime(2026, 6, 9, tzinfo=UTC),
    source="chargeback",
)


class FakeMessage:
    def __init__(self, topic: str) -> None:
        self._topic = topic

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0


class FakeProducer:
    """Queues messages; ``full_for`` produce calls raise BufferError; ``fail`` errors them."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.queue: list[tuple[str, Any, Any, Callable[..., None]]] = []
        self.produced: list[tuple[str, Any, Any, Any]] = []
        self.full_for = 0
        self.polls = 0
        self.fail: KafkaError | None = None
        self.closed = False

    def produce(
        self, topic: str, value: Any, key: Any, on_delivery: Callable[..., None], **kw: Any
    ) -> None:
        if self.full_for:
            self.full_for -= 1
            raise BufferError("queue full")
        if topic == "refused":
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.queue.append((topic, key, value, on_delivery))
        self.produced.append((topic, key, value, kw.get("headers")))

    def poll(self, timeout: float) -> int:
        self.polls += 1
        return self._serve()

    def flush(self, timeout: float) -> int:
        self._serve()
        return 0

    def _serve(self) -> int:
        served = len(self.queue)
        for topic, _, _, callback in self.queue:
            callback(self.fail, FakeMessage(topic))
        self.queue.clear()
        return served

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> EventProducer:
    monkeypatch.setattr(producer_module, "Producer", FakeProducer)
    return EventProducer(KAFKA, buffer_timeout=1.0)


def fake(producer: EventProducer) -> FakeProducer:
    return producer._producer  # type: ignore[return-value]


def test_config_is_idempotent_and_batched(producer: EventProducer) -> None:
    conf = fake(producer).conf
    assert conf["enable.idempotence"] is True
    assert conf["acks"] == "all"
    assert conf["linger.ms"] > 0
    assert conf["bootstrap.servers"] == "fake:9092"


def test_events_are_keyed_so_a_card_stays_in_one_partition(producer: EventProducer) -> None:
    assert event_key(TXN) == TXN.card_token
    assert event_key(LABEL) == "tx-1"
    producer.send_event("transactions", TXN)
    producer.send_event("labels", LABEL)
    producer.flush()
    (t1, k1, v1, _), (t2, k2, v2, _) = fake(producer).produced
    assert (t1, k1, json.loads(v1)["transaction_id"]) == ("transactions", TXN.card_token, "tx-1")
    assert (t2, k2, json.loads(v2)["is_fraud"]) == ("labels", "tx-1", True)
    assert producer.sent == producer.delivered == 2
    with pytest.raises(TypeError):
        event_key(KAFKA)


def test_a_full_queue_is_drained_by_polling(producer: EventProducer) -> None:
    fake(producer).full_for = 3
    producer.send("t", "k", b"v", headers=[("h", b"1")])
    assert fake(producer).polls >= 3
    assert fake(producer).produced == [("t", "k", b"v", [("h", b"1")])]


def test_a_queue_that_stays_full_raises(producer: EventProducer) -> None:
    fake(producer).full_for = 10**9
    producer.buffer_timeout = 0.2
    with pytest.raises(BrokerError, match="stayed full"):
        producer.send("t", "k", b"v")


def test_delivery_errors_are_raised_on_flush_not_dropped(producer: EventProducer) -> None:
    fake(producer).fail = KafkaError(KafkaError._MSG_TIMED_OUT)
    producer.send("t", "k", b"v")
    producer.send("t", "k", b"w")
    with pytest.raises(BrokerError, match="2 message"):
        producer.flush()
    assert producer.failed == 2
    fake(producer).fail = None
    producer.flush()  # errors are reported once


def test_refused_messages_and_closed_producers_raise(producer: EventProducer) -> None:
    with pytest.raises(BrokerError, match="cannot produce"):
        producer.send("refused", "k", b"v")
    with producer:
        producer.send("t", "k", b"v")
    assert fake(producer).closed
    with pytest.raises(BrokerError, match="closed"):
        producer.send("t", "k", b"v")
    producer.close()  # idempotent


def test_a_fatal_error_stops_sending(producer: EventProducer) -> None:
    producer._on_error(KafkaError(KafkaError._FATAL, "fenced", fatal=True))
    with pytest.raises(BrokerError, match="fatal"):
        producer.send("t", "k", b"v")
