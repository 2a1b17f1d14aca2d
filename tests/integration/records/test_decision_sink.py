"""Decisions through Kafka into PostgreSQL: exactly one row each, even across a SIGKILL."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from records_workers import run_sink
from sqlalchemy import Engine, func, select

from fraudlens.kafka import EventProducer
from fraudlens.records.sink import run_decision_sink
from fraudlens.records.tables import decisions
from fraudlens.scoring.feature_sample import feature_sampled
from fraudlens.scoring.result import Reason
from fraudlens.scoring.stream import DecisionEvent
from fraudlens.settings import KafkaSettings, Settings

pytestmark = pytest.mark.integration
N = 3000
RATE = 0.1  # share of decisions that carry their feature vector
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _decision(i: int) -> DecisionEvent:
    decision_id = f"dec-sink-{i:06d}"
    sampled = feature_sampled(decision_id, RATE)
    return DecisionEvent(
        decision_id=decision_id,
        transaction_id=f"tx-sink-{i:06d}",
        event_time=T0 + timedelta(seconds=i),
        card_token=f"tok_sink_{i % 97:04d}",
        score=(i % 100) / 100,
        decision="review" if i % 50 == 0 else "approve",
        reasons=[Reason(kind="model", code="amount", text="amount")],
        model_version="7",
        degraded=False,
        scored_at=T0 + timedelta(seconds=i, milliseconds=5),
        source="stream" if i % 2 else "api",
        features={"amount": float(i), "km": float("nan")} if sampled else None,
    )


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())


def test_sink_survives_sigkill_with_exactly_one_row_per_decision(
    kafka_settings: KafkaSettings,
    records_url: str,
    records_engine: Engine,
    tmp_path: Path,
) -> None:
    # Short sessions: the killed member is dropped (and the group re-forms) sooner.
    kafka_consumer_config = {"session.timeout.ms": 3000, "heartbeat.interval.ms": 500}
    settings = Settings(
        data_dir=tmp_path, kafka=kafka_settings, records={"database_url": records_url}
    )
    with EventProducer(kafka_settings) as producer:
        for i in range(N):
            event = _decision(i)
            producer.send(
                kafka_settings.decisions_topic, event.card_token, event.model_dump_json().encode()
            )
        # Redeliveries from the scorer (same decision ids) and bad messages.
        for i in range(0, N, 100):
            producer.send(
                kafka_settings.decisions_topic, "k", _decision(i).model_dump_json().encode()
            )
        producer.send(kafka_settings.decisions_topic, "k", b"{not json")
        bad_source = _decision(N).model_copy(update={"source": "batch"})
        producer.send(kafka_settings.decisions_topic, "k", bad_source.model_dump_json().encode())
        producer.flush()

    ctx = multiprocessing.get_context("spawn")
    sink = ctx.Process(target=run_sink, args=(settings, 50, kafka_consumer_config))
    sink.start()
    deadline = time.monotonic() + 120
    stored = 0
    while stored < N // 5 and time.monotonic() < deadline and sink.is_alive():
        time.sleep(0.02)
        stored = _count(records_engine)
    sink.kill()  # SIGKILL: no offset commit, no clean leave
    sink.join(10)
    at_kill = _count(records_engine)
    assert 0 < at_kill < N, f"the sink was killed at {at_kill} rows, not mid-run"

    stats = run_decision_sink(
        settings, idle_timeout=2.0, batch_size=500, consumer_config=kafka_consumer_config
    )
    with records_engine.connect() as conn:
        ids = set(conn.execute(select(decisions.c.decision_id)).scalars())
        total = _count(records_engine)
    # Exactly N rows: none lost, none twice (decision_id is the key), the bad ones not stored.
    assert total == N
    assert ids == {f"dec-sink-{i:06d}" for i in range(N)}
    assert stats.inserted == N - at_kill
    assert stats.consumed >= N - at_kill
    with records_engine.connect() as conn:
        stored_event = conn.execute(
            select(decisions).where(decisions.c.decision_id == "dec-sink-000050")
        ).one()
    assert stored_event.decision == "review" and stored_event.source == "api"
    assert stored_event.event_time == T0 + timedelta(seconds=50)
    # The sampled decisions' vectors are stored with them (NaN as null), the others none.
    with records_engine.connect() as conn:
        vectors = dict(
            conn.execute(
                select(decisions.c.decision_id, decisions.c.features).where(
                    decisions.c.features.is_not(None)
                )
            ).all()
        )
    assert set(vectors) == {
        f"dec-sink-{i:06d}" for i in range(N) if feature_sampled(f"dec-sink-{i:06d}", RATE)
    }
    first = min(vectors)
    assert vectors[first] == {"amount": float(int(first[-6:])), "km": None}
