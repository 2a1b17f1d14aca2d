"""The API's decisions and the labels topic into PostgreSQL (records.decision_sink, the sink)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from fraudlens.kafka import EventProducer
from fraudlens.records import latest_labels
from fraudlens.records.sink import run_decision_sink
from fraudlens.records.sink_metrics import SinkMetrics
from fraudlens.records.tables import decisions
from fraudlens.schema import Label, LabelSource
from fraudlens.scoring.decision_log import DecisionLog
from fraudlens.scoring.decision_topic import FanOutSink, KafkaDecisionSink
from fraudlens.scoring.factory import decision_sink
from fraudlens.scoring.result import Reason, ScoreResult
from fraudlens.scoring.service import DecisionSink
from fraudlens.settings import KafkaSettings, Settings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _result(i: int) -> ScoreResult:
    rule = [Reason(kind="rule", code="velocity_limit", text="too many")] if i % 3 == 0 else []
    return ScoreResult(
        transaction_id=f"tx-api-{i:04d}",
        decision_id=f"dec-api-{i:04d}",
        event_time=T0 + timedelta(seconds=i),
        card_token=f"tok_api_{i % 7}",
        score=0.5,
        decision="review" if rule else "approve",
        reasons=[*rule, Reason(kind="model", code="amount", text="amount", value=12.5)],
        model_version="4",
        degraded=False,
        thresholds=(0.5, 0.9),
        rule_hits=["velocity_limit"] if rule else [],
        features={"amount": 12.5},
    )


ApiSink = Callable[..., tuple[Settings, DecisionSink]]


@pytest.fixture
def api_sink(kafka_settings: KafkaSettings, records_url: str, tmp_path: Path) -> ApiSink:
    """``api_sink(**records)``: Settings on the test's topics, schema and data dir (records
    options on top), and the API's decision sink they make."""

    def make(**records: str) -> tuple[Settings, DecisionSink]:
        settings = Settings(
            data_dir=tmp_path,
            kafka=kafka_settings,
            records={"database_url": records_url, **records},
        )
        sink = decision_sink(settings, "api")
        assert sink is not None
        return settings, sink

    return make


def test_api_decisions_reach_postgres_and_the_parquet_log(
    api_sink: ApiSink,
    kafka_settings: KafkaSettings,
    kafka_consumer_config: dict[str, object],
    records_engine: Engine,
    tmp_path: Path,
) -> None:
    settings, sink = api_sink(decision_sink="both")
    assert isinstance(sink, FanOutSink)
    topic = sink.sinks[1]
    assert isinstance(topic, KafkaDecisionSink)
    sink.write([_result(i) for i in range(40)])
    assert topic.producer.delivered == 40  # acknowledged before the API answers
    sink.write([_result(i) for i in range(40, 60)])
    sink.close()
    assert list((tmp_path / "decisions").rglob("*.parquet"))  # the drift monitor's input

    labels = [
        Label(
            transaction_id="tx-api-0001",
            is_fraud=True,
            label_time=T0 + timedelta(days=9),
            source=LabelSource.CHARGEBACK,
        ),
        Label(
            transaction_id="tx-api-0001",
            is_fraud=False,
            label_time=T0 + timedelta(days=11),
            source=LabelSource.ANALYST,
        ),
        Label(
            transaction_id="tx-api-0002",
            is_fraud=True,
            label_time=T0 + timedelta(days=5),
            source=LabelSource.CUSTOMER_REPORT,
        ),
    ]
    with EventProducer(kafka_settings) as producer:
        for label in [*labels, labels[0]]:  # the chargeback arrives twice
            producer.send_event(kafka_settings.labels_topic, label)
        producer.send(kafka_settings.labels_topic, "x", b'{"transaction_id": "tx-1"}')

    metrics = SinkMetrics()
    stats = run_decision_sink(
        settings,
        idle_timeout=2.0,
        consumer_config=kafka_consumer_config,
        labels=True,
        metrics=metrics,
    )
    assert (stats.inserted, stats.dead_lettered) == (60, 1)
    assert (stats.labels_inserted, stats.labels_already_stored) == (3, 1)
    exported = {
        (s.name, s.labels.get("kind")): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert exported == {
        ("fraudlens_records_sink_stored_total", "decision"): 60,
        ("fraudlens_records_sink_stored_total", "label"): 3,
        ("fraudlens_records_sink_duplicates_total", "decision"): 0,
        ("fraudlens_records_sink_duplicates_total", "label"): 1,
        ("fraudlens_records_sink_stored_total", "shadow"): 0,
        ("fraudlens_records_sink_duplicates_total", "shadow"): 0,
        ("fraudlens_records_sink_errors_total", None): 0,
        ("fraudlens_records_sink_dead_letters_total", None): 1,
    }
    lag = metrics.registry.get_sample_value("fraudlens_records_sink_lag_seconds")
    assert lag is not None and lag > 0  # scored in this test, stored a moment later
    with records_engine.connect() as conn:
        latest = latest_labels(conn, ["tx-api-0001", "tx-api-0002"])
    assert {k: (v.is_fraud, v.source) for k, v in latest.items()} == {
        "tx-api-0001": (False, "analyst"),
        "tx-api-0002": (True, "customer_report"),
    }
    with records_engine.connect() as conn:
        rows = {r.decision_id: r for r in conn.execute(select(decisions))}
    assert len(rows) == 60
    assert rows["dec-api-0003"].source == "api"
    assert rows["dec-api-0003"].rule_hits == ["velocity_limit"]
    assert rows["dec-api-0004"].rule_hits == [] and rows["dec-api-0004"].decision == "approve"
    # records.feature_sample_rate defaults to 1: every vector reaches PostgreSQL
    assert all(r.features == {"amount": 12.5} for r in rows.values())


def test_the_setting_picks_the_sink(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    def sink_of(choice: str, source: str = "api") -> object:
        settings = Settings(
            data_dir=tmp_path, kafka=kafka_settings, records={"decision_sink": choice}
        )
        made = decision_sink(settings, source)
        assert made is not None
        made.close()
        return made

    assert isinstance(sink_of("parquet"), DecisionLog)
    assert isinstance(sink_of("kafka"), KafkaDecisionSink)
    # The stream scorer publishes to the topic itself: it keeps the Parquet log,
    # or nothing at all with kafka (no files: production).
    assert isinstance(sink_of("both", "stream"), DecisionLog)
    no_files = Settings(data_dir=tmp_path, kafka=kafka_settings, records={"decision_sink": "kafka"})
    assert decision_sink(no_files, "stream") is None
    off = Settings(data_dir=tmp_path, serve={"decision_log": False})
    assert decision_sink(off, "api") is None


def test_on_defaults_an_api_review_opens_a_case(
    api_sink: ApiSink, kafka_consumer_config: dict[str, object], records_engine: Engine
) -> None:
    from fraudlens.workspace import QueueFilter, list_queue

    # No decision_sink chosen: with a broker and the workspace on, the API publishes too.
    settings, sink = api_sink()
    results = [_result(i) for i in range(3)]  # the first is a review
    sink.write(
        [
            replace(r, decision_id=f"dec-case-{i}", transaction_id=f"tx-case-{i}")
            for i, r in enumerate(results)
        ]
    )
    sink.close()
    stats = run_decision_sink(settings, idle_timeout=2.0, consumer_config=kafka_consumer_config)
    assert stats.inserted == 3
    with records_engine.connect() as conn:
        opened = [row["transaction_id"] for row in list_queue(conn, QueueFilter())]
    assert "tx-case-0" in opened and "tx-case-1" not in opened
