"""The consumer loop's ordering guarantees, with a fake librdkafka consumer (no broker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

import fraudlens.kafka.consumer as consumer_module
from fraudlens.errors import BrokerError, ConfigError, ValidationError
from fraudlens.kafka import ConsumedEvent, EventConsumer, dead_letter_headers, default_decoders
from fraudlens.schema import Transaction, to_json
from fraudlens.settings import KafkaSettings, ValidationSettings

KAFKA = KafkaSettings(bootstrap_servers="fake:9092")
TOPIC = KAFKA.transactions_topic
GOOD = Transaction(
    transaction_id="tx-1",
    event_time=datetime(2026, 6, 1, tzinfo=UTC),
    card_token="tok_k1_" + "a" * 32,
    customer_id="c1",
    terminal_id="t1",
    merchant_id="m1",
    mcc="5411",
    amount=10.0,
    currency="EUR",
    channel="card_present",
    entry_mode="chip",
    country="FR",
)


def txn_bytes(n: int, **changes: Any) -> bytes:
    return to_json(GOOD.model_copy(update={"transaction_id": f"tx-{n}", **changes}))


class FakeMessage:
    def __init__(
        self,
        value: bytes | None,
        offset: int,
        partition: int = 0,
        topic: str = TOPIC,
        error: KafkaError | None = None,
    ) -> None:
        self._value, self._offset, self._partition = value, offset, partition
        self._topic, self._error = topic, error

    def error(self) -> KafkaError | None:
        return self._error

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes:
        return b"key"


class FakeConsumer:
    """Stands in for confluent_kafka.Consumer; ``log`` records the call order."""

    batches: list[list[FakeMessage]] = []
    log: list[tuple[str, Any]] = []
    commit_error: KafkaException | None = None

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf

    def subscribe(self, topics: list[str], **callbacks: Callable[..., None]) -> None:
        self.callbacks = callbacks
        callbacks["on_assign"](self, [TopicPartition(t, 0) for t in topics])

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        self.log.append(("consume", num_messages))
        if len(self.log) > 1_000:
            raise AssertionError("runaway consume loop")
        if not self.batches:
            time.sleep(timeout)  # like the real one: wait, then nothing
            return []
        batch = self.batches[0]
        taken, self.batches[0] = batch[:num_messages], batch[num_messages:]
        if not self.batches[0]:
            self.batches.pop(0)
        return taken

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        assert asynchronous is False
        if self.commit_error is not None:
            raise self.commit_error
        self.log.append(("commit", sorted((tp.partition, tp.offset) for tp in offsets)))
        return offsets

    def close(self) -> None:
        self.log.append(("close", None))


class FakeDeadLetters:
    def __init__(self, log: list[tuple[str, Any]], fail: bool = False) -> None:
        self.log, self.fail = log, fail
        self.messages: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any) -> None:
        self.messages.append((topic, key, value, headers))

    def flush(self) -> None:
        if self.fail:
            raise BrokerError("dead-letter delivery failed")
        self.log.append(("dlq-flush", len(self.messages)))

    def close(self) -> None:
        pass


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeConsumer]:
    FakeConsumer.batches, FakeConsumer.log, FakeConsumer.commit_error = [], [], None
    monkeypatch.setattr(consumer_module, "Consumer", FakeConsumer)
    return FakeConsumer


def make(
    handler: Callable[[list[ConsumedEvent]], None], dlq: FakeDeadLetters | None = None, **kw: Any
) -> EventConsumer:
    return EventConsumer(
        KAFKA,
        [TOPIC, KAFKA.labels_topic],
        handler,
        dead_letter_producer=dlq,  # type: ignore[arg-type]
        **kw,
    )


def test_commits_after_the_handler_and_after_the_dead_letters(fake: type[FakeConsumer]) -> None:
    fake.batches = [
        [
            FakeMessage(txn_bytes(1), 0),
            FakeMessage(b"{oops", 1),
            FakeMessage(txn_bytes(2), 7, partition=2),
        ]
    ]
    dlq = FakeDeadLetters(fake.log)

    def handler(batch: list[ConsumedEvent]) -> None:
        fake.log.append(("handler", [item.event.transaction_id for item in batch]))

    consumer = make(handler, dlq)
    stats = consumer.run(max_events=3)
    consumer.close()
    assert [entry[0] for entry in fake.log] == [
        "consume",
        "handler",
        "dlq-flush",
        "commit",
        "close",
    ]
    assert fake.log[1][1] == ["tx-1", "tx-2"]
    assert fake.log[3][1] == [(0, 2), (2, 8)]  # next offsets, including the dead-lettered one
    assert (stats.consumed, stats.processed, stats.dead_lettered, stats.commits) == (3, 2, 1, 1)
    topic, key, value, headers = dlq.messages[0]
    assert (topic, key, value) == (KAFKA.dead_letter_topic, b"key", b"{oops")
    assert dict(headers)["fraudlens.error_field"] == b"$"


def test_nothing_is_committed_when_the_handler_fails(fake: type[FakeConsumer]) -> None:
    fake.batches = [[FakeMessage(txn_bytes(1), 0)]]

    def handler(batch: list[ConsumedEvent]) -> None:
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError), make(handler) as consumer:
        consumer.run(max_events=1)
    assert [entry[0] for entry in fake.log] == ["consume", "close"]
    assert consumer.stats.processed == 0


def test_nothing_is_committed_when_dead_lettering_fails(fake: type[FakeConsumer]) -> None:
    fake.batches = [[FakeMessage(b"", 0)]]
    consumer = make(lambda batch: None, FakeDeadLetters(fake.log, fail=True))
    with pytest.raises(BrokerError):
        consumer.run(max_events=1)
    assert "commit" not in [entry[0] for entry in fake.log]
    assert consumer.stats.dead_lettered == 0


def test_a_commit_lost_to_a_rebalance_is_not_fatal(fake: type[FakeConsumer]) -> None:
    fake.batches = [[FakeMessage(txn_bytes(1), 0)]]
    fake.commit_error = KafkaException(KafkaError(KafkaError.REBALANCE_IN_PROGRESS))
    stats = make(lambda batch: None).run(max_events=1)
    assert (stats.processed, stats.commits, stats.commit_failures) == (1, 0, 1)


def test_other_commit_errors_raise_broker_error(fake: type[FakeConsumer]) -> None:
    fake.batches = [[FakeMessage(txn_bytes(1), 0)]]
    fake.commit_error = KafkaException(KafkaError(KafkaError._TRANSPORT))
    with pytest.raises(BrokerError, match="commit failed"):
        make(lambda batch: None).run(max_events=1)


def test_max_events_is_exact(fake: type[FakeConsumer]) -> None:
    fake.batches = [[FakeMessage(txn_bytes(i), i) for i in range(10)] for _ in range(3)]
    seen: list[ConsumedEvent] = []
    stats = make(seen.extend, batch_size=4).run(max_events=6)
    assert stats.consumed == 6 and len(seen) == 6
    assert [n for op, n in fake.log if op == "consume"] == [4, 2]


def test_stops_on_the_event_and_when_idle(fake: type[FakeConsumer]) -> None:
    stop = threading.Event()
    stop.set()
    assert make(lambda batch: None).run(stop=stop).consumed == 0
    assert make(lambda batch: None, poll_timeout=0.01).run(idle_timeout=0.05).consumed == 0


def test_partition_eof_is_skipped_and_fatal_errors_raise(fake: type[FakeConsumer]) -> None:
    eof = KafkaError(KafkaError._PARTITION_EOF)
    fake.batches = [[FakeMessage(None, -1, error=eof), FakeMessage(txn_bytes(1), 0)]]
    assert make(lambda batch: None).run(max_events=1).processed == 1
    fatal = KafkaError(KafkaError._FATAL, fatal=True)
    fake.batches = [[FakeMessage(None, -1, error=fatal)]]
    with pytest.raises(BrokerError, match="fatal"):
        make(lambda batch: None).run(max_events=1)


def test_consumer_config(fake: type[FakeConsumer]) -> None:
    consumer = make(lambda batch: None, group_id="g-1", config={"session.timeout.ms": 6000})
    conf = consumer._consumer.conf  # type: ignore[attr-defined]
    assert conf["group.id"] == "g-1"
    assert conf["enable.auto.commit"] is False
    assert conf["auto.offset.reset"] == "earliest"
    assert conf["session.timeout.ms"] == 6000
    with pytest.raises(ConfigError, match="no decoder"):
        EventConsumer(KAFKA, ["elsewhere"], lambda batch: None)
    with pytest.raises(ConfigError):
        EventConsumer(KAFKA, [], lambda batch: None)


def test_decoders_apply_the_validation_limits() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    decode = default_decoders(KAFKA, ValidationSettings(max_amount=100, max_future_seconds=60))
    with pytest.raises(ValidationError) as info:
        decode[TOPIC](txn_bytes(1, amount=150.0), now)
    assert info.value.field == "amount"
    with pytest.raises(ValidationError) as info:
        decode[TOPIC](txn_bytes(1, event_time=now + timedelta(seconds=61)), now)
    assert info.value.field == "event_time"
    assert decode[TOPIC](txn_bytes(1, event_time=now + timedelta(seconds=59)), now)
    with pytest.raises(ValidationError, match="empty"):
        decode[KAFKA.labels_topic](None, now)


def test_dead_letter_headers() -> None:
    when = datetime(2026, 6, 1, 12, tzinfo=UTC)
    headers = dict(
        dead_letter_headers("tx", 3, 42, ValidationError("amount", "x" * 900), failed_at=when)
    )
    assert headers == {
        "fraudlens.source_topic": b"tx",
        "fraudlens.source_partition": b"3",
        "fraudlens.source_offset": b"42",
        "fraudlens.error_field": b"amount",
        "fraudlens.error_reason": b"x" * 500,
        "fraudlens.failed_at": b"2026-06-01T12:00:00+00:00",
    }
