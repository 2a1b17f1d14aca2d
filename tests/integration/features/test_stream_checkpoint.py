"""Stream feature job checkpoints: restart from a snapshot after the topics were truncated."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from stream_child import wait_for

from fraudlens.features.checkpoint import decode, state_bytes
from fraudlens.features.reorder import Partition
from fraudlens.features.snapshots import open_snapshot_store
from fraudlens.features.stream import run_stream_job
from fraudlens.kafka import ensure_topics
from fraudlens.security.pan_scan import scan_file
from fraudlens.settings import KafkaSettings, Settings
from fraudlens.simulator import Simulation

pytestmark = pytest.mark.integration

FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def run(settings: Settings, group: str, **options: Any) -> Any:
    return run_stream_job(
        settings,
        threading.Event(),
        group_id=group,
        idle_timeout=4.0,
        consumer_config=FAST_GROUP,
        **options,
    )


def newest_snapshot(settings: Settings) -> tuple[str, dict[Partition, int]]:
    store = open_snapshot_store(settings)
    name = store.names("features-")[-1]
    header, _ = decode(store.read(name), name)
    return name, {(t, p): o for t, p, o in header["offsets"]}


def truncate(kafka: KafkaSettings, offsets: dict[Partition, int]) -> int:
    """Keep only the records from ``offsets`` on, at the same offsets, as retention does.

    Tansu has no DeleteRecords (it drops the connection), so the topics are
    recreated: empty filler records where the deleted ones were (a job that
    read one would dead-letter it), then the tail. Returns the tail's size.
    """
    conf = kafka.client_config()
    consumer = Consumer(
        {**conf, "group.id": f"truncate-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(t, p, o) for (t, p), o in offsets.items()])
    tail: dict[Partition, list[tuple[bytes | None, bytes | None]]] = {p: [] for p in offsets}
    idle = 0
    while idle < 3:  # Tansu's high watermark is wrong: read until nothing comes
        messages = [m for m in consumer.consume(1000, 1.0) if m.error() is None]
        idle = 0 if messages else idle + 1
        for m in messages:
            tail[(m.topic(), m.partition())].append((m.key(), m.value()))
    consumer.close()
    admin = AdminClient(conf)
    topics = sorted({t for t, _ in offsets})
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        future.result(30)
    deadline = time.monotonic() + 30
    while set(topics) & set(admin.list_topics(timeout=10).topics):
        assert time.monotonic() < deadline, "the topics were not deleted"
        time.sleep(0.2)
    ensure_topics(kafka)
    producer = Producer({**conf, "enable.idempotence": True})
    for (topic, part), start in offsets.items():
        for _ in range(start):
            producer.produce(topic, None, partition=part)
        for key, value in tail[(topic, part)]:
            producer.produce(topic, value, key, partition=part)
    assert producer.flush(30) == 0
    return sum(len(records) for records in tail.values())


def wipe_online_store(settings: Settings) -> None:
    """Delete every row of the embedded (SQLite) online store."""
    path = settings.feast.sqlite_path or settings.data_dir / "feast" / "online.db"
    with closing(sqlite3.connect(path)) as con, con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            con.execute(f'DELETE FROM "{table}"')


def test_restart_from_a_snapshot_needs_only_the_topic_tail(
    feature_sim: Simulation,
    make_feature_settings: Callable[..., Settings],
    produce_stream: Callable[..., int],
    online_state: Callable[[Settings, Simulation], dict[str, Any]],
) -> None:
    victim = make_feature_settings(name="victim")
    reference = make_feature_settings(name="reference")
    kafka = victim.kafka
    group = f"victim-{uuid.uuid4().hex[:6]}"
    times = feature_sim.transactions["event_time"]
    middle = times.iloc[len(times) // 2]

    first = produce_stream(kafka, feature_sim, upto=middle)
    assert run(victim, group).applied == first
    name, offsets = newest_snapshot(victim)
    assert sum(offsets.values()) == first  # every event before the snapshot's offsets
    snapshot = victim.data_dir / "checkpoints" / name
    assert scan_file(snapshot, networks_only=True) == []  # card tokens only, never a PAN
    _, body = decode(snapshot.read_bytes())
    assert feature_sim.transactions["card_token"].iloc[0].encode() in state_bytes(body)

    second = produce_stream(kafka, feature_sim, start=middle)
    run(reference, f"ref-{uuid.uuid4().hex[:6]}")  # uninterrupted, over the whole history
    assert truncate(kafka, offsets) == second
    wipe_online_store(victim)  # and the online store lost its data: the restart heals it

    restarted = run(victim, group)
    # Only the tail was read: no filler record (it would be dead-lettered), no replay.
    assert (restarted.consumed, restarted.applied, restarted.replayed) == (second, second, 0)
    assert restarted.dead_lettered == 0
    assert online_state(victim, feature_sim) == online_state(reference, feature_sim)


def committed(kafka: KafkaSettings, group: str, parts: list[Partition]) -> dict[Partition, int]:
    """The group's committed offsets (read without joining it)."""
    consumer = Consumer({**kafka.client_config(), "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(t, p) for t, p in parts], timeout=30)
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): max(tp.offset, 0) for tp in tps}


def test_killed_job_restarts_from_its_snapshot_not_the_group_commit(
    feature_sim: Simulation,
    make_feature_settings: Callable[..., Settings],
    produce_stream: Callable[..., int],
    spawn_stream_job: Callable[..., subprocess.Popen[bytes]],
    online_state: Callable[[Settings, Simulation], dict[str, Any]],
    tmp_path: Path,
) -> None:
    reference = make_feature_settings(name="reference")
    victim = make_feature_settings(name="victim")
    kafka = victim.kafka
    group = f"victim-{uuid.uuid4().hex[:6]}"
    times = feature_sim.transactions["event_time"]
    middle = times.iloc[len(times) * 2 // 3]
    store = open_snapshot_store(victim)
    log = tmp_path / "child.log"

    # SIGKILL the job while events arrive at a live pace, between two snapshots.
    child = spawn_stream_job(victim, group, log, FRAUDLENS_CHECKPOINT__EVERY_MESSAGES="250")
    try:
        wait_for(lambda: b"assigned" in log.read_bytes(), child, "the job never joined")
        sent: list[int] = []
        feeder = threading.Thread(
            target=lambda: sent.append(produce_stream(kafka, feature_sim, upto=middle, rate=400))
        )
        feeder.start()
        wait_for(lambda: len(store.names("features-")) >= 2, child, "no snapshot written")
        time.sleep(0.3)  # let it commit a few batches past the snapshot
    finally:
        child.kill()
        child.wait(30)
    feeder.join()
    _, snapshot = newest_snapshot(victim)
    commits = committed(kafka, group, list(snapshot))
    assert sum(snapshot.values()) < sent[0], "the job was done before the kill"

    produce_stream(kafka, feature_sim, start=middle)
    total = len(feature_sim.transactions) + len(feature_sim.labels)
    restarted = run(victim, group)
    # Read from the snapshot's offsets; what lies before the group's commit only
    # rebuilt memory (it was written before the kill).
    assert restarted.consumed == total - sum(snapshot.values())
    assert restarted.replayed == sum(max(0, commits[p] - o) for p, o in snapshot.items())
    run(reference, f"ref-{uuid.uuid4().hex[:6]}")
    assert online_state(victim, feature_sim) == online_state(reference, feature_sim)
