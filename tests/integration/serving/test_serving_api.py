"""The scoring API on real Ray Serve + Feast (Redis) + MLflow + Kafka."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from api_client import http
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from fraudlens.features.registry import FEATURE_NAMES
from fraudlens.settings import Settings

pytestmark = pytest.mark.integration

PAN = "4000 0566 5566 5556"


def test_batch_scores_with_plain_language_reasons(
    serve_url: str, bodies: list[dict[str, Any]]
) -> None:
    batch = bodies[-300:]
    response = http.post(f"{serve_url}/v1/score/batch", json={"transactions": batch}, timeout=30)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["transaction_id"] for r in results] == [b["transaction_id"] for b in batch]
    assert not any(r["degraded"] for r in results)
    flagged = [r for r in results if r["decision"] != "approve"]
    assert flagged, "the thresholds are set so that a few percent are flagged"
    reasons = [reason for r in flagged for reason in r["reasons"] if reason["kind"] == "model"]
    assert reasons and all(reason["text"] and "_" not in reason["text"] for reason in reasons)
    # One call or many: the same score for the same transaction.
    one = http.post(f"{serve_url}/v1/score", json=batch[-1], timeout=10).json()
    assert one["score"] == pytest.approx(results[-1]["score"], abs=1e-6)
    assert one["decision_id"] == results[-1]["decision_id"]


def test_pan_is_tokenized_at_the_edge(serve_url: str, bodies: list[dict[str, Any]]) -> None:
    body = dict(bodies[100])
    del body["card_token"]
    body.pop("card_last4", None)  # the simulated card's; the API takes the PAN's own
    body["pan"] = PAN
    response = http.post(f"{serve_url}/v1/score", json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert PAN.replace(" ", "") not in response.text and response.json()["degraded"] is False


def test_model_health_and_docs(serve_url: str, models: Any) -> None:
    info = http.get(f"{serve_url}/v1/model", timeout=10).json()
    assert info["feature_service"] == "fraud_model_v1" and len(info["features"]) == len(
        FEATURE_NAMES
    )
    assert 0 < info["thresholds"]["review"] <= info["thresholds"]["decline"] <= 1
    assert http.get(f"{serve_url}/healthz", timeout=10).status_code == 200
    ready = http.get(f"{serve_url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["features"] == "ok"  # warmed up
    assert http.get(f"{serve_url}/docs", timeout=10).status_code == 200
    assert "/v1/score/batch" in http.get(f"{serve_url}/openapi.json", timeout=10).json()["paths"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ("empty", 422, "$"),
        ({"amount": "twelve"}, 422, "amount"),
        ({"amount": -3.5}, 422, "amount"),
        ({"currency": "ZZZ"}, 422, "currency"),
        ({"event_time": "yesterday"}, 422, "event_time"),
        ({"card_token": ["x"]}, 422, "card_token"),
        ({"transaction_id": None}, 422, "transaction_id"),
        ("huge", 413, "$"),
    ],
)
def test_bad_requests_get_4xx_naming_the_field(
    serve_url: str, bodies: list[dict[str, Any]], change: Any, status: int, field: str
) -> None:
    body = dict(bodies[5])
    if change == "empty":
        response = http.post(
            f"{serve_url}/v1/score", content=b"", headers={"content-type": "application/json"}
        )
    elif change == "huge":
        response = http.post(f"{serve_url}/v1/score", json=body | {"pad": "x" * 2_000_000})
    else:
        for key, value in change.items():
            if value is None:
                body.pop(key)
            else:
                body[key] = value
        response = http.post(f"{serve_url}/v1/score", json=body, timeout=10)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field


def test_labels_reach_the_labels_topic(serve_url: str, serving_settings: Settings) -> None:
    label = {
        "transaction_id": f"lbl-{uuid.uuid4().hex[:8]}",
        "is_fraud": True,
        "label_time": "2026-06-20T10:00:00Z",
        "source": "chargeback",
    }
    response = http.post(f"{serve_url}/v1/labels", json={"labels": [label]}, timeout=15)
    assert response.status_code == 202, response.text
    kafka = serving_settings.kafka
    consumer = Consumer(
        kafka.client_config()
        | {"group.id": f"labels-check-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False}
    )
    # Read every partition from the start without joining a group (faster).
    partitions = range(kafka.partitions)
    consumer.assign([TopicPartition(kafka.labels_topic, p, OFFSET_BEGINNING) for p in partitions])
    found = None
    deadline = time.monotonic() + 30
    try:
        while found is None and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                event = json.loads(msg.value())
                if event["transaction_id"] == label["transaction_id"]:
                    found = event
    finally:
        consumer.close()
    assert found is not None and found["is_fraud"] is True
