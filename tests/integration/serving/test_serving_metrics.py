"""Scoring metrics under real Ray Serve, read the way Prometheus reads them.

Inside Serve replicas the metrics are Ray metrics: Ray's metrics agent exports
them as ``ray_fraudlens_*`` on the node's metrics export port. This test
scrapes that port, applies the ``metric_relabel_configs`` of the ``ray`` job in
monitoring/prometheus/prometheus.yml, and checks the ``fraudlens_*`` series the
alert rules and dashboards use.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from api_client import http
from prometheus_client.parser import text_string_to_metric_families

from fraudlens.kafka import EventProducer, ensure_topics, free_port
from fraudlens.schema import parse_transaction
from fraudlens.scoring.stream import run_stream_scorer
from fraudlens.settings import MetricsSettings, Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _relabel_rules() -> list[dict[str, Any]]:
    config = yaml.safe_load((ROOT / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "ray"]
    rules: list[dict[str, Any]] = job["metric_relabel_configs"]
    return rules


def _relabel(name: str, labels: dict[str, str], rules: list[dict[str, Any]]) -> str:
    """Prometheus' ``replace`` action (the default), for the ``__name__`` label."""
    for rule in rules:
        assert rule.get("action", "replace") == "replace"
        source = ";".join(
            name if s == "__name__" else labels.get(s, "") for s in rule["source_labels"]
        )
        match = re.fullmatch(rule["regex"], source)
        if match and rule["target_label"] == "__name__":
            name = match.expand(re.sub(r"\$(\d+)", r"\\\1", rule["replacement"]))
    return name


def _scrape(url: str, rules: list[dict[str, Any]]) -> tuple[set[str], Series]:
    """Raw names that start with ``ray_fraudlens_``, and every relabelled fraudlens_* sample."""
    raw: set[str] = set()
    series: Series = {}
    for family in text_string_to_metric_families(http.get(url, timeout=10).text):
        for sample in family.samples:
            if not sample.name.startswith("ray_fraudlens_"):
                continue
            raw.add(sample.name)
            name = _relabel(sample.name, sample.labels, rules)
            key = (name, frozenset(sample.labels.items()))
            series[key] = series.get(key, 0.0) + sample.value
    return raw, series


def _total(series: Series, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lbls), v in series.items() if n == name and want <= lbls)


def _by(series: Series, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for (n, lbls), v in series.items():
        if n == name:
            out[dict(lbls)[label]] += v
    return dict(out)


@pytest.fixture(scope="module")
def metrics_url(serve_url: str) -> str:
    import ray

    (node,) = [n for n in ray.nodes() if n["Alive"]]
    return f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics"


def test_serve_exports_the_scoring_metrics_through_ray(
    serve_url: str, metrics_url: str, bodies: list[dict[str, Any]]
) -> None:
    rules = _relabel_rules()
    _, before = _scrape(metrics_url, rules)
    ok = [http.post(f"{serve_url}/v1/score", json=b, timeout=10) for b in bodies[-20:]]
    assert all(r.status_code == 200 for r in ok), ok[0].text
    assert not any(r.json()["degraded"] for r in ok), "the online store is not answering"
    bad = http.post(f"{serve_url}/v1/score", json={**bodies[0], "amount": -1}, timeout=10)
    assert bad.status_code == 422
    batch = http.post(
        f"{serve_url}/v1/score/batch", json={"transactions": bodies[-200:]}, timeout=30
    )
    assert batch.status_code == 200
    decisions = 20 + 200

    # (series, labels, least growth over ``before``); Ray flushes each on its own schedule
    wanted: list[tuple[str, dict[str, str], float]] = [
        ("fraudlens_requests_total", {"route": "/v1/score", "status": "200"}, 20),
        ("fraudlens_request_latency_seconds_count", {"route": "/v1/score"}, 21),
        ("fraudlens_requests_total", {"route": "/v1/score/batch", "status": "200"}, 1),
        ("fraudlens_requests_total", {"route": "/v1/score", "status": "422"}, 1),
        ("fraudlens_decisions_total", {}, decisions),
        ("fraudlens_score_count", {}, decisions),
    ]
    # Not required to grow here: after the degraded test's online-store restart the
    # feature-age probe stopped reporting in full-suite runs (open defect, issue #6).

    def missing(series: Series) -> list[str]:
        late = [
            f"{name}{labels}"
            for name, labels, least in wanted
            if _total(series, name, **labels) < _total(before, name, **labels) + least
        ]
        if _total(series, "fraudlens_shadow_comparisons_total") <= 0:
            late.append("fraudlens_shadow_comparisons_total")
        # Set once when the replica loads its model: exported on Ray's schedule, like the rest
        # (a full-suite run scraped every other series before it).
        if _total(series, "fraudlens_model_info") < 1:
            late.append("fraudlens_model_info")
        return late

    deadline = time.monotonic() + 240  # Ray's metrics agent exports every few seconds
    raw, after = _scrape(metrics_url, rules)
    while missing(after) and time.monotonic() < deadline:
        time.sleep(2)
        raw, after = _scrape(metrics_url, rules)
    assert not missing(after), (missing(after), sorted(raw))

    # What Ray 2.60 exports: ray_ prefix, counters with _total only, histograms
    # with _bucket/_count/_sum, gauges as named.
    assert {
        "ray_fraudlens_requests_total",
        "ray_fraudlens_request_latency_seconds_bucket",
        "ray_fraudlens_request_latency_seconds_count",
        "ray_fraudlens_request_latency_seconds_sum",
        "ray_fraudlens_decisions_total",
        "ray_fraudlens_score_bucket",
        "ray_fraudlens_feature_age_seconds_bucket",
        "ray_fraudlens_model_info",
        "ray_fraudlens_shadow_comparisons_total",
    } <= raw
    assert "ray_fraudlens_requests" not in raw and "ray_fraudlens_decisions" not in raw

    def delta(name: str, **labels: str) -> float:
        return _total(after, name, **labels) - _total(before, name, **labels)

    assert delta("fraudlens_requests_total", route="/v1/score", status="200") >= 20
    assert delta("fraudlens_requests_total", route="/v1/score/batch", status="200") >= 1
    count = delta("fraudlens_request_latency_seconds_count", route="/v1/score")
    assert count >= 21
    # The SLO rules divide the 0.1 s bucket by the count: both must exist and agree.
    within = delta("fraudlens_request_latency_seconds_bucket", route="/v1/score", le="0.1")
    assert 0 < within <= count
    inf = delta("fraudlens_request_latency_seconds_bucket", route="/v1/score", le="+Inf")
    assert inf == count
    assert delta("fraudlens_request_latency_seconds_sum", route="/v1/score") > 0

    by_decision = _by(after, "fraudlens_decisions_total", "decision")
    assert set(by_decision) <= {"approve", "review", "decline"} and by_decision["approve"] > 0
    assert delta("fraudlens_score_count") >= decisions
    assert delta("fraudlens_feature_age_seconds_sum") > 0
    assert _total(after, "fraudlens_degraded_total") >= 0
    served = http.get(f"{serve_url}/v1/model", timeout=10).json()
    alias = "pinned" if served["pinned_version"] else served["model_alias"]
    info: dict[tuple[str, str], float] = defaultdict(float)
    for (n, lbls), v in after.items():
        if n == "fraudlens_model_info":
            key = (dict(lbls)["version"], dict(lbls)["alias"])
            info[key] = max(info[key], v)  # one series per replica
    assert info[(served["model_version"], alias)] == 1, dict(info)
    assert sum(info.values()) == 1, dict(info)  # older versions are 0
    assert _total(after, "fraudlens_shadow_comparisons_total") >= _total(
        after, "fraudlens_shadow_disagreements_total"
    )


def test_stream_scorer_serves_its_metrics_on_metrics_port(
    serving_settings: Settings, models: Any, bodies: list[dict[str, Any]]
) -> None:
    suffix = uuid.uuid4().hex[:6]  # own topics: other tests read the shared ones from the start
    kafka = serving_settings.kafka.model_copy(
        update={"transactions_topic": f"tx-metrics-{suffix}", "decisions_topic": f"dec-{suffix}"}
    )
    ensure_topics(kafka)
    batch = [parse_transaction(b) for b in bodies[-90:-60]]
    with EventProducer(kafka) as producer:
        for txn in batch:
            producer.send_event(kafka.transactions_topic, txn)
    port = free_port()
    settings = serving_settings.model_copy(
        update={
            "kafka": kafka,
            "serve": serving_settings.serve.model_copy(
                update={"stream_group": f"scorer-metrics-{suffix}"}
            ),
            "metrics": MetricsSettings(port=port, host="127.0.0.1"),
        }
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=run_stream_scorer,
        args=(settings, stop),
        kwargs={"consumer_config": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}},
    )
    thread.start()
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 90
        values: dict[str, float] = {}
        while time.monotonic() < deadline:
            try:
                values = _plain(http.get(url, timeout=5).text)
            except httpx.TransportError:
                values = {}
            if values.get("fraudlens_stream_scored_total", 0) >= len(batch):
                break
            time.sleep(1)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert values.get("fraudlens_stream_scored_total", 0) >= len(batch), sorted(values)
    assert values["fraudlens_decisions_total"] >= len(batch)
    assert values["fraudlens_stream_batch_seconds_count"] >= 1
    assert values["fraudlens_stream_lag_seconds"] > 0  # the replayed events are months old
    assert values['fraudlens_model_info{alias="champion"}'] == 1
    with pytest.raises(httpx.TransportError):  # the server stops with the scorer
        http.get(url, timeout=2)


def _plain(text: str) -> dict[str, float]:
    """Sample sums by name, plus by name and alias for the model info gauge."""
    out: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name] += sample.value
            if sample.name == "fraudlens_model_info":
                key = f'fraudlens_model_info{{alias="{sample.labels["alias"]}"}}'
                out[key] = max(out[key], sample.value)
    return dict(out)
