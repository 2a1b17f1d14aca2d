"""The PAN scan of live stores: every message of a real broker, every key of a real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from fraudlens.errors import BrokerError
from fraudlens.kafka import EmbeddedBroker, EventProducer, ensure_topics
from fraudlens.redis_server import EmbeddedRedis
from fraudlens.security.pan_stores import scan_redis, scan_topics
from fraudlens.settings import KafkaSettings

pytestmark = pytest.mark.integration

PAN = "4111" + "1" * 12  # built at run time; the stores holding it are private and dropped


def test_every_message_of_every_topic_is_scanned(tmp_path: Path) -> None:
    # A private broker: the planted card must not reach the session broker's final scan.
    with EmbeddedBroker(tmp_path / "broker") as broker:
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, partitions=3)
        ensure_topics(kafka)
        with EventProducer(kafka) as producer:
            for i in range(300):
                producer.send(kafka.transactions_topic, f"t-{i}", b'{"amount": 12.5}')
            producer.send(kafka.labels_topic, "t-7", f'{{"note": "card {PAN}"}}'.encode())
            producer.send(kafka.decisions_topic, PAN, b"{}")
            producer.flush()
        scan = scan_topics(kafka.client_config(), networks_only=True)
        assert scan.counts[kafka.transactions_topic] == 300
        assert scan.counts[kafka.labels_topic] == 1 and scan.counts[kafka.dead_letter_topic] == 0
        found = {(f.location.split()[1], f.location.split()[-1]) for f in scan.findings}
        assert len(scan.findings) == 2
        assert found == {(kafka.decisions_topic, "key"), (kafka.labels_topic, "value")}
        assert {f.masked for f in scan.findings} == {"************1111"}
        only = scan_topics(kafka.client_config(), [kafka.transactions_topic, "absent"])
        assert only.findings == [] and only.counts == {kafka.transactions_topic: 300}
    with pytest.raises(BrokerError):
        scan_topics({"bootstrap.servers": broker.bootstrap_servers, "socket.timeout.ms": 2000})


def test_every_key_of_redis_is_scanned(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        host, port = server.url.split(":")
        client = redis.Redis(host=host, port=int(port))
        client.hset(b"\x02card\x00feast", mapping={b"_ts:card_state": b"\x08\x01", b"f1": b"12.5"})
        client.hset(b"k2", mapping={b"f": f"x{PAN}".encode()})
        client.set(f"cache:{PAN}", b"1")
        client.rpush("queue", b"ok", PAN.encode())
        client.sadd("tags", b"1234567890123")  # not Luhn-valid and not a network prefix
        scan = scan_redis(client, networks_only=True)
        assert scan.counts["keys"] == 5
        kinds = sorted(f.location.split(" ", 2)[2] for f in scan.findings)
        assert kinds == ["field value", "item", "name"]
        client.flushall()
        assert scan_redis(client).findings == []
        client.close()
