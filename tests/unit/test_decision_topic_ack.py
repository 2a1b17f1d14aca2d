"""The API's decisions topic sink answers only once the broker acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fraudlens.errors import BrokerError
from fraudlens.kafka import EventProducer
from fraudlens.scoring.decision_topic import KafkaDecisionSink
from fraudlens.scoring.result import ScoreResult
from fraudlens.settings import KafkaSettings


def test_write_raises_when_the_broker_does_not_acknowledge() -> None:
    # Nothing listens on port 1: the decision stays queued, and write must say so.
    producer = EventProducer(
        KafkaSettings(bootstrap_servers="127.0.0.1:1"), config={"message.timeout.ms": 1000}
    )
    sink = KafkaDecisionSink(producer, "decisions", ack_timeout_s=0.5)
    result = ScoreResult(
        transaction_id="t1",
        decision_id="d1",
        event_time=datetime(2026, 6, 1, tzinfo=UTC),
        card_token="tok_k1_" + "a" * 32,
        score=0.1,
        decision="approve",
        reasons=[],
        model_version="1",
        degraded=False,
        thresholds=(0.5, 0.9),
    )
    with pytest.raises(BrokerError, match="still queued"):
        sink.write([result])
    with pytest.raises(BrokerError, match="not delivered"):  # then it times out
        producer.close(timeout=5.0)
