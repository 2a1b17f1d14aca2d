"""The stream scorer killed mid-run, or scoring again after a promotion: one decision row per
transaction in PostgreSQL (issue 13)."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from fake_api import fake_service
from records_data import decision_rows_per_transaction
from records_workers import score_stream
from sqlalchemy import Engine, select
from transactions import make_txn

from fraudlens.kafka import EventProducer
from fraudlens.records.sink import run_decision_sink
from fraudlens.records.tables import decisions
from fraudlens.scoring.stream import run_stream_scorer
from fraudlens.settings import KafkaSettings, Settings

pytestmark = pytest.mark.integration
N = 3000
SESSION = {"session.timeout.ms": 3000, "heartbeat.interval.ms": 500}


def _published_until(kafka: KafkaSettings, count: int, alive: multiprocessing.Process) -> int:
    """Count decisions on the topic until ``count`` are there (or the scorer stopped)."""
    consumer = Consumer(kafka.client_config() | {"group.id": f"count-{uuid.uuid4().hex[:6]}"})
    consumer.assign(
        [
            TopicPartition(kafka.decisions_topic, p, OFFSET_BEGINNING)
            for p in range(kafka.partitions)
        ]
    )
    seen = 0
    deadline = time.monotonic() + 120
    try:
        while seen < count and alive.is_alive() and time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                seen += 1
    finally:
        consumer.close()
    return seen


@pytest.fixture
def settings(kafka_settings: KafkaSettings, records_url: str, tmp_path: Path) -> Settings:
    """Scoring that records decisions through the topic only, as in production."""
    return Settings(
        data_dir=tmp_path,
        kafka=kafka_settings,
        records={"database_url": records_url, "decision_sink": "kafka"},
        serve={"stream_batch_size": 20},
    )


def test_sigkilled_stream_scorer_leaves_one_decision_per_transaction(
    kafka_settings: KafkaSettings, settings: Settings, records_engine: Engine
) -> None:
    wanted = {f"tx-skill-{i:05d}" for i in range(N)}
    with EventProducer(kafka_settings) as producer:
        for i in range(N):
            txn = make_txn(i, transaction_id=f"tx-skill-{i:05d}", step=timedelta(seconds=7))
            producer.send_event(kafka_settings.transactions_topic, txn)

    ctx = multiprocessing.get_context("spawn")
    scorer = ctx.Process(target=score_stream, args=(settings, SESSION, 0.02))
    scorer.start()
    seen = _published_until(kafka_settings, N // 5, scorer)
    scorer.kill()  # SIGKILL mid-run: decisions published, offsets of the last batches not committed
    scorer.join(10)
    assert N // 5 <= seen < N, f"the scorer was killed at {seen} decisions, not mid-run"

    # A replacement replica takes over the group and scores what was not committed.
    stats = run_stream_scorer(
        settings, service=fake_service(), idle_timeout=5.0, consumer_config=SESSION
    )
    assert 0 < stats.processed <= N
    run_decision_sink(settings, idle_timeout=3.0, consumer_config=SESSION)
    stored = decision_rows_per_transaction(records_engine, "tx-skill-")
    assert set(stored) == wanted, f"{len(wanted - set(stored))} transactions have no decision"
    assert set(stored.values()) == {1}  # redelivered batches kept their decision ids


def test_transaction_scored_again_after_a_promotion_keeps_its_first_decision(
    kafka_settings: KafkaSettings, settings: Settings, records_engine: Engine
) -> None:
    n = 200
    wanted = {f"tx-promo-{i:04d}" for i in range(n)}
    with EventProducer(kafka_settings) as producer:
        for i in range(n):
            txn = make_txn(i, transaction_id=f"tx-promo-{i:04d}")
            producer.send_event(kafka_settings.transactions_topic, txn)
    first = run_stream_scorer(
        settings, service=fake_service("1"), max_events=n, idle_timeout=5.0, consumer_config=SESSION
    )
    # The scorer died before committing its offsets (a group with no committed
    # offset reads them again), and version 2 was promoted meanwhile.
    serve = settings.serve.model_copy(update={"stream_group": f"rescore-{uuid.uuid4().hex[:6]}"})
    again = run_stream_scorer(
        settings.model_copy(update={"serve": serve}),
        service=fake_service("2"),
        max_events=n,
        idle_timeout=5.0,
        consumer_config=SESSION,
    )
    assert first.processed == again.processed == n
    sink = run_decision_sink(settings, idle_timeout=3.0, consumer_config=SESSION)
    assert (sink.inserted, sink.already_stored) == (n, n)
    stored = decision_rows_per_transaction(records_engine, "tx-promo-")
    assert set(stored) == wanted and set(stored.values()) == {1}
    with records_engine.connect() as conn:
        versions = conn.execute(
            select(decisions.c.model_version)
            .where(decisions.c.transaction_id.like("tx-promo-%"))
            .distinct()
        ).scalars()
        assert set(versions) == {"1"}  # the first decision stored stays
