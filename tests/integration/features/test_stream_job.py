"""Stream feature job: restart after a kill, dead letters, metrics."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from confluent_kafka import Consumer, TopicPartition
from stream_child import wait_for

from fraudlens.features.metrics import StreamMetrics
from fraudlens.features.repo import offline_path
from fraudlens.features.store import historical_vectors, open_store
from fraudlens.features.stream import run_stream_job
from fraudlens.settings import Settings
from fraudlens.simulator import Simulation

pytestmark = pytest.mark.integration

FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def stream_files(settings: Settings) -> list[Path]:
    return sorted((offline_path(settings) / "card_state").glob("stream-*.parquet"))


def test_killed_job_restarts_to_the_same_online_store(
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
    log = tmp_path / "child.log"

    # Run the job as a separate process; feed it at a live pace and SIGKILL it
    # while events are still arriving.
    child = spawn_stream_job(victim, group, log)
    try:
        wait_for(lambda: b"assigned" in log.read_bytes(), child, "the job never joined")
        sent: list[int] = []
        feeder = threading.Thread(
            target=lambda: sent.append(produce_stream(kafka, feature_sim, upto=middle, rate=600))
        )
        feeder.start()
        wait_for(lambda: len(stream_files(victim)) >= 2, child, "the job made no progress")
        assert feeder.is_alive(), "the stream was over before the kill"
    finally:
        child.kill()
        child.wait(30)
    feeder.join()
    first_part = sent[0]

    produce_stream(kafka, feature_sim, start=middle)
    restarted = run_stream_job(
        victim, threading.Event(), group_id=group, idle_timeout=4.0, consumer_config=FAST_GROUP
    )
    # It resumed from a commit made mid-stream: part of the input was replayed
    # to rebuild memory, the rest processed normally.
    assert 0 < restarted.replayed < first_part
    assert restarted.applied == len(feature_sim.transactions) + len(feature_sim.labels)

    run_stream_job(
        reference,
        threading.Event(),
        group_id=f"ref-{uuid.uuid4().hex[:6]}",
        idle_timeout=4.0,
        consumer_config=FAST_GROUP,
    )
    assert online_state(victim, feature_sim) == online_state(reference, feature_sim)
    # Offline rows written twice (before the kill and again) change nothing.
    sample = feature_sim.transactions.iloc[::7]
    pd.testing.assert_frame_equal(
        historical_vectors(open_store(victim), sample),
        historical_vectors(open_store(reference), sample),
    )


def test_bad_events_go_to_the_dead_letter_topic_and_the_job_goes_on(
    feature_sim: Simulation,
    feature_settings: Settings,
    produce_stream: Callable[..., int],
) -> None:
    kafka = feature_settings.kafka
    first_days = feature_sim.transactions["event_time"].min() + pd.Timedelta(days=3)
    good = produce_stream(kafka, feature_sim, bad_every=100, upto=first_days)
    metrics = StreamMetrics()
    stats = run_stream_job(
        feature_settings,
        threading.Event(),
        idle_timeout=4.0,
        metrics=metrics,
        consumer_config=FAST_GROUP,
    )
    bad = -(-good // 100)  # one bad event per 100 good ones, starting with the first
    assert stats.applied == good
    assert stats.dead_lettered == bad

    consumer = Consumer(
        {
            **kafka.client_config(),
            "group.id": f"dlq-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            **FAST_GROUP,
        }
    )
    consumer.assign([TopicPartition(kafka.dead_letter_topic, p) for p in range(kafka.partitions)])
    dead = []
    deadline = time.monotonic() + 30
    while len(dead) < bad and time.monotonic() < deadline:
        dead += [m for m in consumer.consume(100, 0.5) if m.error() is None]
    consumer.close()
    assert len(dead) == bad
    headers = dict(dead[0].headers() or [])
    assert headers["fraudlens.source_topic"] == kafka.transactions_topic.encode()
    assert headers["fraudlens.error_field"]

    value = metrics.registry.get_sample_value
    assert (
        value("fraudlens_features_dead_letters_total", {"topic": kafka.transactions_topic}) == bad
    )
    assert value("fraudlens_features_events_total", {"topic": kafka.transactions_topic}) > 0
    assert value("fraudlens_features_rows_pushed_total", {"view": "card_state"}) > 0
