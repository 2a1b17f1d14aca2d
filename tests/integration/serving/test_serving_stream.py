"""The stream scorer: transactions topic -> decisions topic, same scores as the API."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
from api_client import http
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from fraudlens.kafka import EventProducer
from fraudlens.schema import parse_transaction
from fraudlens.scoring.stream import DECISION_ID_HEADER, run_stream_scorer
from fraudlens.settings import Settings

pytestmark = pytest.mark.integration


def read_decisions(settings: Settings, wanted: set[str], timeout: float = 60) -> dict[str, Any]:
    kafka = settings.kafka
    consumer = Consumer(kafka.client_config() | {"group.id": f"check-{uuid.uuid4().hex[:6]}"})
    consumer.assign(
        [
            TopicPartition(kafka.decisions_topic, p, OFFSET_BEGINNING)
            for p in range(kafka.partitions)
        ]
    )
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        while not wanted <= set(found) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            event = json.loads(msg.value())
            headers = dict(msg.headers() or [])
            assert headers[DECISION_ID_HEADER].decode() == event["decision_id"]
            found.setdefault(event["transaction_id"], event)
    finally:
        consumer.close()
    return found


def test_stream_scorer_matches_the_api(
    serve_url: str, serving_settings: Settings, bodies: list[dict[str, Any]]
) -> None:
    batch = bodies[-120:-60]
    txns = [parse_transaction(b) for b in batch]
    with EventProducer(serving_settings.kafka) as producer:
        for txn in txns:
            producer.send_event(serving_settings.kafka.transactions_topic, txn)
    settings = serving_settings.model_copy(
        update={
            "serve": serving_settings.serve.model_copy(
                update={"stream_group": f"scorer-{uuid.uuid4().hex[:6]}", "stream_batch_size": 25}
            )
        }
    )
    stop = threading.Event()
    started = time.perf_counter()
    stats = run_stream_scorer(
        settings,
        stop,
        max_events=len(txns),
        idle_timeout=20,
        consumer_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    )
    seconds = time.perf_counter() - started
    assert stats.processed == len(txns), stats
    decisions = read_decisions(settings, {t.transaction_id for t in txns})
    api = http.post(f"{serve_url}/v1/score/batch", json={"transactions": batch}, timeout=30)
    for result in api.json()["results"]:
        streamed = decisions[result["transaction_id"]]
        assert streamed["score"] == pytest.approx(result["score"], abs=1e-6)
        assert streamed["decision"] == result["decision"]
        assert streamed["decision_id"] == result["decision_id"]
        assert streamed["model_version"] == result["model_version"]
        assert [r["code"] for r in streamed["reasons"]] == [r["code"] for r in result["reasons"]]
    print(f"stream scorer: {len(txns)} transactions in {seconds:.1f} s including startup")
