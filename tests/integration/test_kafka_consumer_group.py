"""At-least-once consumption against the real embedded broker (no mocks)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from fraudlens.kafka import (
    ConsumedEvent,
    EventConsumer,
    EventProducer,
    consume,
    encode_events,
    replay,
    replay_labels,
)
from fraudlens.schema import Transaction
from fraudlens.settings import KafkaSettings

pytestmark = pytest.mark.integration


class SimulatedCrash(RuntimeError):
    """Raised by a handler to play a worker dying mid-batch."""


def _ids(batch: list[ConsumedEvent]) -> list[str]:
    return [item.event.transaction_id for item in batch]


def _read_topic(
    kafka: KafkaSettings, topic: str, expected: int, timeout: float = 20.0
) -> list[Any]:
    """Read a topic from the beginning without a group (no join wait)."""
    reader = Consumer({**kafka.client_config(), "group.id": "unused", "enable.auto.commit": False})
    try:
        meta = reader.list_topics(topic, timeout=10).topics[topic]
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        messages: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            messages += [m for m in reader.consume(100, 0.5) if m.error() is None]
        return messages
    finally:
        reader.close()


def test_group_member_crash_loses_nothing(
    kafka_settings: KafkaSettings,
    kafka_consumer_config: dict[str, Any],
    make_transactions: Callable[..., pd.DataFrame],
) -> None:
    """Two members share 10,000 events; one dies mid-batch and a replacement joins."""
    frame = make_transactions(10_000, seed=1)
    with EventProducer(kafka_settings) as producer:
        result = replay(frame, producer, kafka_settings.transactions_topic)
    assert result.events == 10_000
    produced = set(frame["transaction_id"])

    seen: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    crashed_batch: list[str] = []
    errors: dict[str, BaseException] = {}
    stops = {name: threading.Event() for name in seen}

    def handler_for(name: str, crash_on_batch: int | None) -> Callable[[list[ConsumedEvent]], None]:
        calls = 0

        def handle(batch: list[ConsumedEvent]) -> None:
            nonlocal calls
            calls += 1
            ids = _ids(batch)
            if calls == crash_on_batch:
                # Half the batch is "done", then the worker dies before the commit.
                seen[name].extend(ids[: len(ids) // 2])
                crashed_batch.extend(ids)
                raise SimulatedCrash(name)
            seen[name].extend(ids)
            time.sleep(0.05)  # slow enough that the crash happens mid-way

        return handle

    def member(name: str, crash_on_batch: int | None = None) -> threading.Thread:
        def run() -> None:
            try:
                with EventConsumer(
                    kafka_settings,
                    [kafka_settings.transactions_topic],
                    handler_for(name, crash_on_batch),
                    batch_size=100,
                    config=kafka_consumer_config,
                ) as consumer:
                    consumer.run(stop=stops[name])
            except BaseException as exc:
                errors[name] = exc

        thread = threading.Thread(target=run, name=f"member-{name}", daemon=True)
        thread.start()
        return thread

    started = time.monotonic()
    thread_a = member("a")
    thread_b = member("b", crash_on_batch=5)
    thread_b.join(timeout=60)
    assert not thread_b.is_alive()
    assert isinstance(errors.pop("b"), SimulatedCrash)
    thread_c = member("c")  # the replacement

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if set(seen["a"]) | set(seen["b"]) | set(seen["c"]) >= produced:
            break
        time.sleep(0.1)
    # Tansu: members leaving at the same instant can wedge a group; stop one at a time.
    for name, thread in (("a", thread_a), ("c", thread_c)):
        stops[name].set()
        thread.join(timeout=30)
        assert not thread.is_alive(), f"member {name} did not stop"
    assert not errors, errors

    everything = seen["a"] + seen["b"] + seen["c"]
    assert set(everything) == produced, "events were lost"
    assert len(everything) >= len(produced)
    assert len(crashed_batch) == 100
    # The batch the crashed member never committed was delivered again, whole.
    assert set(crashed_batch) <= set(seen["a"]) | set(seen["c"])
    assert seen["c"], "the replacement took no work"
    assert time.monotonic() - started < 90


_WORKER = """
import sys, time
from fraudlens.kafka import EventConsumer
from fraudlens.settings import KafkaSettings

bootstrap, topic, group, out = sys.argv[1:5]
kafka = KafkaSettings(bootstrap_servers=bootstrap, transactions_topic=topic)

def handle(batch):
    with open(out, "a") as fh:
        fh.write("".join(item.event.transaction_id + "\\n" for item in batch))
    time.sleep(0.05)

config = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
with EventConsumer(kafka, [topic], handle, group_id=group, batch_size=100, config=config) as c:
    c.run()
"""


def test_a_killed_worker_process_loses_nothing(
    kafka_settings: KafkaSettings,
    kafka_consumer_config: dict[str, Any],
    make_transactions: Callable[..., pd.DataFrame],
    tmp_path: Path,
) -> None:
    """SIGKILL (no LeaveGroup, no close): the group expires the member and moves its work."""
    frame = make_transactions(6_000, seed=6)
    with EventProducer(kafka_settings) as producer:
        replay(frame, producer, kafka_settings.transactions_topic)
    produced = set(frame["transaction_id"])
    topic, group = kafka_settings.transactions_topic, kafka_settings.consumer_group
    out = tmp_path / "worker.txt"
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER, kafka_settings.bootstrap_servers, topic, group, str(out)]
    )
    seen: list[str] = []
    stop = threading.Event()

    def handle(batch: list[ConsumedEvent]) -> None:
        seen.extend(_ids(batch))
        time.sleep(0.05)

    def member() -> None:
        consume(
            kafka_settings, [topic], handle, stop=stop, batch_size=100, config=kafka_consumer_config
        )

    thread = threading.Thread(target=member, name="survivor", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if out.exists() and len(out.read_text().split()) >= 500:
                break
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait(timeout=10)
    by_worker = out.read_text().split()
    assert len(by_worker) >= 500, "the worker never got going"

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not set(seen) | set(by_worker) >= produced:
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert set(seen) | set(by_worker) == produced, "events were lost"


def test_restart_resumes_from_committed_offset(
    kafka_settings: KafkaSettings,
    kafka_consumer_config: dict[str, Any],
    make_transactions: Callable[..., pd.DataFrame],
) -> None:
    frame = make_transactions(2_000, seed=2)
    with EventProducer(kafka_settings) as producer:
        replay(frame, producer, kafka_settings.transactions_topic)

    first: list[ConsumedEvent] = []
    second: list[ConsumedEvent] = []
    topics = [kafka_settings.transactions_topic]
    stats = consume(
        kafka_settings,
        topics,
        first.extend,
        max_events=800,
        batch_size=100,
        config=kafka_consumer_config,
    )
    assert stats.processed == 800
    assert stats.commits >= 8
    stats = consume(
        kafka_settings, topics, second.extend, idle_timeout=2.0, config=kafka_consumer_config
    )
    assert stats.processed == 1_200

    first_ids, second_ids = set(_ids(first)), set(_ids(second))
    assert len(first_ids) == 800 and len(second_ids) == 1_200
    assert not first_ids & second_ids, "the restarted consumer re-read committed events"
    assert first_ids | second_ids == set(frame["transaction_id"])

    # One card's events stay in one partition, in event-time order.
    by_position = sorted(first + second, key=lambda item: (item.partition, item.offset))
    last_time: dict[str, datetime] = {}
    partition_of: dict[str, int] = {}
    for item in by_position:
        txn = item.event
        assert isinstance(txn, Transaction)
        assert partition_of.setdefault(txn.card_token, item.partition) == item.partition
        assert txn.event_time >= last_time.get(txn.card_token, txn.event_time)
        last_time[txn.card_token] = txn.event_time


def test_malformed_events_go_to_the_dead_letter_topic(
    kafka_settings: KafkaSettings,
    kafka_consumer_config: dict[str, Any],
    make_transactions: Callable[..., pd.DataFrame],
) -> None:
    frame = make_transactions(4, seed=3)
    good = json.loads(encode_events(frame.iloc[:1], Transaction)[0])

    def variant(**changes: Any) -> bytes:
        data = {**good, "transaction_id": "tx-bad"}
        for key, value in changes.items():
            if value is None:
                data.pop(key)
            else:
                data[key] = value
        return json.dumps(data).encode()

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    malformed = {
        "bad-json": (b'{"transaction_id": "tx-1", "amount": ', "$", "not valid JSON"),
        "missing-field": (variant(amount=None), "amount", "field is required"),
        "negative-amount": (variant(amount=-5.0), "amount", "must not be negative"),
        "unknown-currency": (variant(currency="XYZ"), "currency", "unknown currency"),
        "future-time": (variant(event_time=future), "event_time", "in the future"),
    }
    topic = kafka_settings.transactions_topic
    with EventProducer(kafka_settings) as producer:
        # The malformed events go between valid ones: the consumer must keep going.
        replay(frame.iloc[:2], producer, topic)
        for name, (value, _, _) in malformed.items():
            producer.send(topic, name, value)
        replay(frame.iloc[2:], producer, topic)
        labels = pd.DataFrame(
            {
                "transaction_id": frame["transaction_id"].iloc[:2],
                "is_fraud": [True, False],
                "label_time": pd.Timestamp("2026-07-01", tz="UTC"),
                "source": "chargeback",
                "fraud_scenario": ["stolen_card", None],
            }
        )
        replay_labels(labels, producer, kafka_settings.labels_topic)
        producer.send(kafka_settings.labels_topic, "bad-label", b'{"transaction_id": "tx-9"}')

    handled: list[ConsumedEvent] = []
    stats = consume(
        kafka_settings,
        [topic, kafka_settings.labels_topic],
        handled.extend,
        idle_timeout=2.0,
        config=kafka_consumer_config,
    )
    assert stats.dead_lettered == 6
    assert stats.processed == 6  # the consumer kept going past the bad ones
    assert {i.event.transaction_id for i in handled if i.topic == topic} == set(
        frame["transaction_id"]
    )
    assert sum(i.topic == kafka_settings.labels_topic for i in handled) == 2

    dead = _read_topic(kafka_settings, kafka_settings.dead_letter_topic, expected=6)
    assert len(dead) == 6
    by_key = {m.key().decode(): m for m in dead}
    for name, (value, field, reason) in malformed.items():
        message = by_key[name]
        headers = {k: v.decode() for k, v in message.headers()}
        assert message.value() == value, "the original bytes must be kept"
        assert headers["fraudlens.source_topic"] == topic
        assert int(headers["fraudlens.source_offset"]) >= 0
        assert int(headers["fraudlens.source_partition"]) in range(kafka_settings.partitions)
        assert headers["fraudlens.error_field"] == field
        assert reason in headers["fraudlens.error_reason"]
    label_headers = dict(by_key["bad-label"].headers())
    assert label_headers["fraudlens.source_topic"] == kafka_settings.labels_topic.encode()
    assert label_headers["fraudlens.error_field"] == b"is_fraud"
