"""Scan live stores for PANs: Kafka topics and a Redis online store (files: ``pan_scan``).

Both read everything once, from the start, without changing anything: topics
through a consumer assigned to every partition (no group, no commits), Redis
with ``SCAN`` and a read of each key by type. ``ray_application_logs`` picks
the files of a Ray session worth scanning.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraudlens.errors import BrokerError
from fraudlens.security.pan_scan import Finding, _scan_values, scan_kafka_messages


@dataclass
class StoreScan:
    """Findings of one live store and how much was read."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def scan_topics(
    client_config: Mapping[str, Any],
    topics: Sequence[str] | None = None,
    *,
    networks_only: bool = False,
    timeout: float = 60.0,
) -> StoreScan:
    """Read every message of ``topics`` (default: all but internal ones) and scan it.

    Args:
        client_config: librdkafka settings (``KafkaSettings.client_config()``).
        topics: topic names; missing ones are skipped.
        networks_only: see ``pan_scan``.
        timeout: seconds to read everything before giving up.

    Returns:
        Findings, and messages read per topic in ``counts``.

    Raises:
        BrokerError: the broker is unreachable or the read did not finish in time.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    config = {
        **client_config,
        "group.id": f"fraudlens-pan-scan-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "auto.offset.reset": "earliest",
    }
    consumer = Consumer(config)
    result = StoreScan()
    try:
        metadata = consumer.list_topics(timeout=10)
        names = [t for t in metadata.topics if not t.startswith("_")]
        wanted = [t for t in (topics if topics is not None else names) if t in metadata.topics]
        remaining: dict[tuple[str, int], int] = {}
        start: list[Any] = []
        for topic in wanted:
            result.counts[topic] = 0
            for partition in metadata.topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                if high > low:
                    remaining[(topic, partition)] = high
                    start.append(TopicPartition(topic, partition, low))
        if start:
            consumer.assign(start)
        counts: Counter[str] = Counter()
        result.findings = scan_kafka_messages(
            _read_until(consumer, remaining, counts, timeout), networks_only=networks_only
        )
        result.counts.update(counts)
    except KafkaException as exc:
        raise BrokerError(f"PAN scan of topics failed: {exc}") from exc
    finally:
        consumer.close()
    return result


def _read_until(
    consumer: Any, remaining: dict[tuple[str, int], int], counts: Counter[str], timeout: float
) -> Iterator[Any]:
    deadline = time.monotonic() + timeout
    while remaining:
        if time.monotonic() > deadline:
            raise BrokerError(f"PAN scan of topics: {len(remaining)} partitions not read in time")
        for msg in consumer.consume(num_messages=1000, timeout=1.0):
            if msg.error():
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            counts[topic] += 1
            yield msg
            end = remaining.get((topic, partition))
            if end is not None and offset + 1 >= end:
                del remaining[(topic, partition)]


def scan_redis(client: Any, *, networks_only: bool = False) -> StoreScan:
    """Scan every key of a Redis database (names, hash fields, values, lists, sets).

    Args:
        client: a ``redis.Redis`` client.
        networks_only: see ``pan_scan``.

    Returns:
        Findings, and the number of keys read in ``counts["keys"]``.
    """
    result = StoreScan(counts={"keys": 0})

    def rows() -> Iterator[tuple[str, Any]]:
        for key in client.scan_iter(count=1000):
            result.counts["keys"] += 1
            where = f"key #{result.counts['keys']}"  # key names may hold the PAN
            yield f"{where} name", key
            kind = client.type(key)
            kind = kind.decode() if isinstance(kind, bytes) else kind
            if kind == "hash":
                for name, value in client.hgetall(key).items():
                    yield f"{where} field name", name
                    yield f"{where} field value", value
            elif kind == "string":
                yield f"{where} value", client.get(key)
            elif kind == "list":
                yield from ((f"{where} item", v) for v in client.lrange(key, 0, -1))
            elif kind in {"set", "zset"}:
                items = client.smembers(key) if kind == "set" else client.zrange(key, 0, -1)
                yield from ((f"{where} member", v) for v in items)

    result.findings = [f for f, _ in _scan_values(rows(), "redis", networks_only=networks_only)]
    return result


def ray_application_logs(session_dir: Path) -> list[Path]:
    """The log files of one Ray session that carry FraudLens output, sorted.

    Workers' stdout and stderr (``worker-*.out``/``.err``, moved to ``old/``
    when a worker exits) and the ``serve/`` and ``train/`` folders. Ray's own
    daemons (raylet, GCS, dashboard, core-worker logs) print only resource
    figures and ids, e.g. object-store bytes in fixed point, which can pass a
    Luhn check by chance: scanning them would fail on noise.

    Args:
        session_dir: a Ray session folder (``<temp dir>/ray/session_*``).

    Returns:
        Regular files only; none if the folder is gone (a live session may
        delete or move files at any time: callers must expect that too).
    """
    logs = session_dir / "logs"
    found: list[Path] = []
    for folder, _, names in os.walk(logs):  # a vanished folder is skipped, not raised
        top = Path(folder).relative_to(logs).parts[:1]
        for name in names:
            path = Path(folder) / name
            wanted = top in {("serve",), ("train",)} or name.startswith("worker-")
            if wanted and path.is_file() and not path.is_symlink():
                found.append(path)
    return sorted(found)
