"""The embedded broker's lifecycle, topics and producer against a real broker."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType

from fraudlens.errors import BrokerError, BrokerStartError
from fraudlens.kafka import EmbeddedBroker, EventProducer, all_topics, ensure_topics, replay
from fraudlens.schema import parse_transaction
from fraudlens.settings import KafkaSettings

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_start_and_stop(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path).start()
    pid = broker.pid
    assert pid is not None and broker.running
    host, port = broker.bootstrap_servers.split(":")
    assert host == "127.0.0.1" and int(port) > 0
    metadata = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(timeout=5)
    assert metadata.brokers
    broker.stop()
    broker.stop()  # idempotent
    assert not broker.running
    assert _wait_dead(pid)
    assert (tmp_path / "tansu.log").exists()
    with pytest.raises(BrokerStartError):
        _ = broker.bootstrap_servers


def test_a_broker_that_exits_reports_its_log(tmp_path: Path) -> None:
    script = tmp_path / "fake-broker"
    script.write_text("#!/bin/sh\necho 'address already in use' >&2\nexit 3\n")
    script.chmod(0o755)
    broker = EmbeddedBroker(tmp_path, port=1, binary=str(script))
    with pytest.raises(BrokerStartError, match="address already in use"):
        broker.start()
    assert not broker.running


def test_a_silent_broker_times_out(tmp_path: Path) -> None:
    script = tmp_path / "fake-broker"
    script.write_text("#!/bin/sh\necho 'starting'\nexec sleep 60\n")
    script.chmod(0o755)
    broker = EmbeddedBroker(tmp_path, start_timeout=1.5, binary=str(script))
    with pytest.raises(BrokerStartError, match="did not answer"):
        broker.start()
    assert not broker.running


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_no_orphan_when_the_interpreter_ends(tmp_path: Path, ending: str) -> None:
    """atexit stops the broker on a normal exit; the parent-death signal on a kill."""
    code = (
        "import sys, time\n"
        "from fraudlens.kafka import EmbeddedBroker\n"
        f"broker = EmbeddedBroker({str(tmp_path)!r}).start()\n"
        "print(broker.pid, flush=True)\n"
        f"time.sleep(60 if {ending == 'sigkill'} else 0)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    broker_pid = int(child.stdout.readline())
    if ending == "sigkill":
        child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert _wait_dead(broker_pid), f"broker {broker_pid} outlived its parent ({ending})"


def test_ensure_topics_is_idempotent(kafka_settings: KafkaSettings) -> None:
    # The fixture already created the four topics.
    assert ensure_topics(kafka_settings) == []
    names = [f"{kafka_settings.transactions_topic}-extra"]
    assert ensure_topics(kafka_settings, names, partitions=3) == names
    assert ensure_topics(kafka_settings, names, partitions=3) == []
    admin = AdminClient(kafka_settings.client_config())
    topics = admin.list_topics(timeout=5).topics
    assert len(topics[names[0]].partitions) == 3
    assert len(topics[kafka_settings.transactions_topic].partitions) == 4


def _retention_ms(admin: AdminClient, names: list[str]) -> dict[str, str | None]:
    described = admin.describe_configs([ConfigResource(ResourceType.TOPIC, n) for n in names])
    found = {res.name: future.result(timeout=10) for res, future in described.items()}
    return {
        name: (c["retention.ms"].value if "retention.ms" in c else None)
        for name, c in found.items()
    }


def test_topics_get_their_retention_and_existing_ones_are_aligned(
    kafka_settings: KafkaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # Tansu keeps topic configs and reports them with DescribeConfigs.
    admin = AdminClient(kafka_settings.client_config())
    names = all_topics(kafka_settings)
    week = str(7 * 86_400_000)
    assert _retention_ms(admin, names) == dict.fromkeys(names, week)
    shorter = kafka_settings.model_copy(update={"labels_retention_days": 3})
    with caplog.at_level(logging.WARNING, logger="fraudlens.kafka.topics"):
        assert ensure_topics(shorter) == []
    three_days = str(3 * 86_400_000)
    assert _retention_ms(admin, names) == {**dict.fromkeys(names, week), names[1]: three_days}
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [
        f"topic {names[1]} had retention.ms={week}; set to {three_days} (kafka settings)"
    ]
    caplog.clear()
    assert ensure_topics(shorter) == [] and caplog.records == []  # aligned: nothing to do


def test_ensure_topics_fails_cleanly_without_a_broker() -> None:
    unreachable = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    with pytest.raises(BrokerError):
        ensure_topics(unreachable, ["t"], timeout=1.0)


def test_paced_replay_reaches_the_target_rate(
    kafka_settings: KafkaSettings, make_transactions: Callable[..., pd.DataFrame]
) -> None:
    frame = make_transactions(3_000, seed=4)
    with EventProducer(kafka_settings) as producer:
        result = replay(frame, producer, kafka_settings.transactions_topic, rate=2_000)
        assert producer.delivered == 3_000
    assert result.events == 3_000
    # 1.5 s nominal; a fresh idempotent producer needs ~0.5 s before its first ack.
    assert 1_400 <= result.rate <= 2_200


def test_delivery_failures_are_raised_on_flush() -> None:
    unreachable = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    producer = EventProducer(unreachable, config={"message.timeout.ms": 1000})
    producer.send("transactions", "k1", b"{}")
    producer.send("transactions", "k2", b"{}")
    with pytest.raises(BrokerError, match="2 message"):
        producer.flush(timeout=10)
    assert producer.failed == 2
    producer.flush(timeout=1)  # reported once, not again


def test_replayed_events_parse(
    kafka_settings: KafkaSettings, make_transactions: Callable[..., pd.DataFrame]
) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    frame = make_transactions(200, seed=5)
    with EventProducer(kafka_settings) as producer:
        replay(frame, producer, kafka_settings.transactions_topic)
    reader = Consumer({**kafka_settings.client_config(), "group.id": "unused"})
    topic = kafka_settings.transactions_topic
    reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(4)])
    values = []
    deadline = time.monotonic() + 20
    while len(values) < 200 and time.monotonic() < deadline:
        values += [m for m in reader.consume(200, 0.5) if m.error() is None]
    reader.close()
    assert len(values) == 200
    for message in values:
        txn = parse_transaction(message.value())
        assert message.key().decode() == txn.card_token
        assert b"is_fraud" not in message.value()
