"""Serving metrics over fakes: the API's counters move with what it answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from test_scoring_api import PAN, TOKENIZER, ApiClient, body
from test_scoring_stream import Producer, consumed, txn

from fraudlens.errors import ConfigError
from fraudlens.kafka import free_port
from fraudlens.kafka.consumer import ConsumedEvent
from fraudlens.scoring import Rules, ScoringConfig, ScoringService, ShadowScorer
from fraudlens.scoring.config import EntityLists
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.scoring.freshness import STATE_REFS, FeatureAgeProbe
from fraudlens.scoring.metrics import (
    PrometheusBackend,
    ServingMetrics,
    in_serve_replica,
    start_metrics_server,
)
from fraudlens.scoring.shadow import shadow_batch
from fraudlens.scoring.stream import StreamScorer
from fraudlens.settings import KafkaSettings, MetricsSettings, Settings, ValidationSettings
from ray_apps.api import ApiContext, create_api

BLOCKED = "tok_k1_" + "b" * 32


class StateStore:
    """A fake Feast store answering the freshness probe's state read."""

    def __init__(self, written_at: float) -> None:
        self.written_at = written_at
        self.reads: list[list[dict[str, Any]]] = []

    def get_online_features(self, features: list[str], entity_rows: list[dict[str, Any]]) -> Any:
        assert features == list(STATE_REFS)
        self.reads.append(entity_rows)
        n = len(entity_rows)
        stamps = {"c_state__ts": [self.written_at] * n, "t_state__ts": [0] * n}  # 0: no row

        class Response:
            def to_dict(self, include_event_timestamps: bool = False) -> dict[str, list[Any]]:
                assert include_event_timestamps
                return {"c_state": [b"x"] * n, "t_state": [None] * n, **stamps}

        return Response()


def value(m: ServingMetrics, name: str, **labels: str) -> float:
    assert m.registry is not None
    found = m.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


@pytest.fixture
def metrics() -> ServingMetrics:
    return ServingMetrics(PrometheusBackend(CollectorRegistry()))


@pytest.fixture
def features() -> FakeFeatures:
    return FakeFeatures()


@pytest.fixture
def state() -> StateStore:
    return StateStore(written_at=time.time() - 120)


@pytest.fixture
def service(metrics: ServingMetrics, features: FakeFeatures, state: StateStore) -> ScoringService:
    loader = FakeLoader([FakeModel("1"), FakeModel("2", bias=-3.5)], {"champion": "1"})
    probe = FeatureAgeProbe(lambda: state, metrics, every_s=3600)
    svc = ScoringService(loader, features, metrics=metrics, freshness=probe)
    rules = Rules(block=EntityLists(cards=frozenset({BLOCKED})))
    svc.apply_config(ScoringConfig(rules=rules))
    return svc


@pytest.fixture
def client(service: ScoringService) -> Iterator[ApiClient]:
    ctx = ApiContext(service, TOKENIZER, ValidationSettings(), None, max_body_bytes=4096)
    with ApiClient(create_api(ctx)) as test_client:
        yield test_client


def test_a_scored_request_counts_route_status_latency_and_decision(
    client: ApiClient, metrics: ServingMetrics
) -> None:
    assert client.post("/v1/score", json=body()).status_code == 200
    assert value(metrics, "fraudlens_requests_total", route="/v1/score", status="200") == 1
    assert value(metrics, "fraudlens_request_latency_seconds_count", route="/v1/score") == 1
    assert value(metrics, "fraudlens_request_latency_seconds_sum", route="/v1/score") > 0
    assert value(metrics, "fraudlens_decisions_total", decision="approve") == 1
    assert value(metrics, "fraudlens_degraded_total") == 0
    assert value(metrics, "fraudlens_score_count") == 1


def test_feature_age_is_sampled_off_the_request_path(
    client: ApiClient, service: ScoringService, metrics: ServingMetrics, state: StateStore
) -> None:
    for i in range(3):
        assert client.post("/v1/score", json=body(transaction_id=f"t{i}")).status_code == 200
    probe = service.freshness
    assert probe is not None
    probe._pool.shutdown(wait=True)  # let the background probe finish
    assert len(state.reads) == 1  # one probe per every_s, not one per request
    assert state.reads[0] == [{"card_token": "tok_k1_" + "a" * 32, "terminal_id": "T1"}]
    # The card row was written two minutes ago; the terminal has no row (not counted).
    assert value(metrics, "fraudlens_feature_age_seconds_count") == 1
    assert value(metrics, "fraudlens_feature_age_seconds_bucket", le="60.0") == 0
    assert value(metrics, "fraudlens_feature_age_seconds_bucket", le="300.0") == 1


def test_a_422_counts_as_422_and_makes_no_decision(
    client: ApiClient, metrics: ServingMetrics
) -> None:
    assert client.post("/v1/score", json=body(amount=-5)).status_code == 422
    assert client.post("/v1/score", content=b"{").status_code == 422
    assert value(metrics, "fraudlens_requests_total", route="/v1/score", status="422") == 2
    assert value(metrics, "fraudlens_requests_total", route="/v1/score", status="200") == 0
    assert value(metrics, "fraudlens_decisions_total", decision="approve") == 0


def test_a_413_and_an_unknown_path_are_counted(client: ApiClient, metrics: ServingMetrics) -> None:
    big = body(merchant_id="M" * 5000)
    assert client.post("/v1/score", json=big).status_code == 413
    assert client.get("/v1/nothing/here").status_code == 404
    assert client.get("/healthz").status_code == 200
    assert value(metrics, "fraudlens_requests_total", route="unmatched", status="404") == 1
    # Refused by the body limit before routing, still named by its route.
    assert value(metrics, "fraudlens_requests_total", route="/v1/score", status="413") == 1
    assert value(metrics, "fraudlens_requests_total", route="/healthz", status="200") == 0


def test_a_degraded_answer_increments_degraded(
    client: ApiClient, features: FakeFeatures, metrics: ServingMetrics, state: StateStore
) -> None:
    features.down = True
    response = client.post("/v1/score", json=body(card_token=None, pan=PAN))
    assert response.status_code == 200 and response.json()["degraded"] is True
    assert value(metrics, "fraudlens_degraded_total") == 1
    assert value(metrics, "fraudlens_decisions_total", decision="approve") == 1
    assert not state.reads  # the store is down: no freshness probe


def test_a_decline_counts_the_decision_and_the_rule(
    client: ApiClient, metrics: ServingMetrics
) -> None:
    response = client.post("/v1/score", json=body(card_token=BLOCKED))
    assert response.json()["decision"] == "decline"
    batch = {"transactions": [body(card_token=BLOCKED), body(transaction_id="t2")]}
    assert client.post("/v1/score/batch", json=batch).status_code == 200
    assert value(metrics, "fraudlens_decisions_total", decision="decline") == 2
    assert value(metrics, "fraudlens_decisions_total", decision="approve") == 1
    assert value(metrics, "fraudlens_rule_hits_total", rule="block_card") == 2
    assert value(metrics, "fraudlens_requests_total", route="/v1/score/batch", status="200") == 1


def test_metrics_route_serves_the_registry(client: ApiClient) -> None:
    client.post("/v1/score", json=body())
    response = client.get("/metrics")
    assert response.status_code == 200
    assert 'fraudlens_requests_total{route="/v1/score",status="200"} 1.0' in response.text
    assert 'fraudlens_model_info{alias="champion",version="1"} 1.0' in response.text
    assert PAN.replace(" ", "") not in response.text


def test_model_info_follows_the_served_version(
    service: ScoringService, metrics: ServingMetrics
) -> None:
    assert value(metrics, "fraudlens_model_info", version="1", alias="champion") == 1
    service.apply_config(ScoringConfig(model_version="2"))
    assert value(metrics, "fraudlens_model_info", version="1", alias="champion") == 0
    assert value(metrics, "fraudlens_model_info", version="2", alias="pinned") == 1


def test_shadow_counts_comparisons_and_disagreements(
    service: ScoringService, metrics: ServingMetrics
) -> None:
    # The challenger (bias -3.5) approves what the champion declines on the block rule.
    loader = FakeLoader([FakeModel("2", bias=-3.5)], {"challenger": "2"})
    shadow = ShadowScorer(loader, FakeFeatures(), None, metrics=metrics)
    assert shadow.load() is not None
    txns = [txn(0), txn(1).model_copy(update={"card_token": BLOCKED})]
    scored = service.scorer.score(txns, service.active)
    assert [r.decision for r in scored.results] == ["approve", "decline"]
    assert shadow.score(shadow_batch(scored)) == 2
    assert value(metrics, "fraudlens_shadow_comparisons_total") == 2
    assert value(metrics, "fraudlens_shadow_disagreements_total") == 1


def test_stream_scorer_records_decisions_throughput_and_lag(
    service: ScoringService, metrics: ServingMetrics
) -> None:
    producer = Producer()
    scorer = StreamScorer(service, producer, "decisions", model_poll_s=0)  # type: ignore[arg-type]
    events: list[ConsumedEvent] = consumed([txn(0), txn(1), txn(0)])
    scorer(events)
    assert value(metrics, "fraudlens_stream_scored_total") == 2
    assert value(metrics, "fraudlens_stream_batch_seconds_count") == 1
    assert value(metrics, "fraudlens_decisions_total", decision="approve") == 2
    newest = datetime(2026, 6, 3, 0, 0, 1, tzinfo=UTC).timestamp()
    lag = value(metrics, "fraudlens_stream_lag_seconds")
    assert lag >= time.time() - newest - 5 and lag <= time.time() - newest


def test_metrics_server_serves_and_reports_a_taken_port(metrics: ServingMetrics) -> None:
    assert metrics.registry is not None
    assert start_metrics_server(0, metrics.registry)() is None  # 0: off
    metrics.feature_ages([1.0])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match="metrics.port"):
            start_metrics_server(port, metrics.registry, "127.0.0.1")
    stop = start_metrics_server(port, metrics.registry, "127.0.0.1")
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        stop()
    assert "fraudlens_feature_age_seconds_count 1.0" in text


def test_outside_serve_the_backend_is_prometheus() -> None:
    assert in_serve_replica() is False


def test_cli_refuses_a_bad_metrics_port() -> None:
    from typer.testing import CliRunner

    from fraudlens.cli import app

    result: Any = CliRunner().invoke(app, ["stream", "score", "--metrics-port", "70000"])
    assert result.exit_code == 2 and "metrics-port" in result.output


def test_stream_feature_job_serves_metrics_while_it_runs(tmp_path: Path) -> None:
    from fraudlens.features.job import StreamFeatureJob

    port = free_port()
    settings = Settings(
        data_dir=tmp_path,
        kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"),  # nothing listens
        metrics=MetricsSettings(port=port, host="127.0.0.1"),
    )
    seen: list[str] = []

    class Job(StreamFeatureJob):
        def _loop(self, *args: Any) -> None:  # no broker: just scrape once
            self.metrics.events.labels("transactions").inc(3)
            seen.append(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)

    job = Job(settings, store=None, offline=False)
    try:
        job.run(threading.Event())
    finally:
        job.close()
    assert 'fraudlens_features_events_total{topic="transactions"} 3.0' in seen[0]
    with pytest.raises(httpx.TransportError):  # stopped with the job
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
