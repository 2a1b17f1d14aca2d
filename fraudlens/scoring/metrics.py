"""Prometheus metrics of scoring: requests, decisions, model, shadow, stream scorer.

Scoring code records through ``ServingMetrics``; the backend depends on where
it runs:

- ``PrometheusBackend`` (prometheus_client): the bare FastAPI app, the stream
  scorer, tests. Scrape ``/metrics`` of the app or ``metrics.port`` of the job.
- ``RayBackend`` (``ray.util.metrics``): inside a Ray Serve replica, where a
  replica's own registry cannot be scraped (several replicas behind the
  proxy). Ray's metrics agent exports them as ``ray_<name>``; the Prometheus
  ``ray`` job renames ``ray_fraudlens_*`` back to ``fraudlens_*``.

``default_metrics()`` picks the backend for this process, once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry

from fraudlens.errors import ConfigError
from fraudlens.scoring.metric_backends import (
    Backend,
    PrometheusBackend,
    RayBackend,
    in_serve_replica,
)
from fraudlens.scoring.result import ScoreResult

__all__ = [
    "Backend",
    "PrometheusBackend",
    "RayBackend",
    "ServingMetrics",
    "StreamScorerMetrics",
    "default_metrics",
    "in_serve_replica",
    "start_metrics_server",
]

logger = logging.getLogger(__name__)

# The 0.1 s bucket is the latency SLO of the alert rules: keep it.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SCORE_BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
# Seconds; 21600 (6 h) is the stale-features alert threshold.
AGE_BUCKETS = (1, 10, 60, 300, 900, 3600, 10800, 21600, 43200, 86400, 604800, 2592000)
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServingMetrics:
    """The scoring metrics (names in monitoring/README.md), recorded once per event.

    Args:
        backend: where they go (default: a ``PrometheusBackend`` with a fresh registry).
    """

    def __init__(self, backend: Backend | None = None) -> None:
        self.backend: Backend = backend if backend is not None else PrometheusBackend()
        b = self.backend
        self.requests = b.counter(
            "fraudlens_requests", "HTTP requests by route and status code", ("route", "status")
        )
        self.latency = b.histogram(
            "fraudlens_request_latency_seconds",
            "Seconds from request to response, by route",
            LATENCY_BUCKETS,
            ("route",),
        )
        self.decisions = b.counter(
            "fraudlens_decisions", "Decisions by outcome (approve, review, decline)", ("decision",)
        )
        self.degraded = b.counter(
            "fraudlens_degraded", "Decisions made without the stored features (degraded)"
        )
        self.rule_hits = b.counter("fraudlens_rule_hits", "Decision rules that fired", ("rule",))
        self.score = b.histogram("fraudlens_score", "Fraud scores of the model", SCORE_BUCKETS)
        self.feature_age = b.histogram(
            "fraudlens_feature_age_seconds",
            "Age of the stored feature rows behind scored transactions (sampled)",
            AGE_BUCKETS,
        )
        self.model_info = b.gauge(
            "fraudlens_model_info", "1 for the model version being served", ("version", "alias")
        )
        self.shadow_comparisons = b.counter(
            "fraudlens_shadow_comparisons", "Transactions scored by the challenger in shadow"
        )
        self.shadow_disagreements = b.counter(
            "fraudlens_shadow_disagreements",
            "Shadow transactions where the challenger's decision differs from the champion's",
        )
        self._model: tuple[str, str] | None = None
        self._stream: StreamScorerMetrics | None = None
        self._lock = threading.Lock()

    @property
    def stream(self) -> StreamScorerMetrics:
        """The stream scorer's throughput and lag, on the same backend (made on first use)."""
        with self._lock:
            if self._stream is None:
                self._stream = StreamScorerMetrics(self.backend)
            return self._stream

    @property
    def registry(self) -> CollectorRegistry | None:
        """The prometheus_client registry to serve, or None (Ray exports the metrics)."""
        registry: CollectorRegistry | None = getattr(self.backend, "registry", None)
        return registry

    def request(self, route: str, status: int, seconds: float) -> None:
        """One HTTP request answered."""
        self.requests.inc(labels={"route": route, "status": str(status)})
        self.latency.observe(seconds, labels={"route": route})

    def results(self, results: Iterable[ScoreResult]) -> None:
        """Decisions of one batch."""
        counts: dict[str, int] = {}
        hits: dict[str, int] = {}
        degraded = 0
        for result in results:
            counts[result.decision] = counts.get(result.decision, 0) + 1
            degraded += result.degraded
            for rule in result.rule_hits:
                hits[rule] = hits.get(rule, 0) + 1
            if result.score is not None:
                self.score.observe(result.score)
        for decision, n in counts.items():
            self.decisions.inc(n, {"decision": decision})
        for rule, n in hits.items():
            self.rule_hits.inc(n, {"rule": rule})
        if degraded:
            self.degraded.inc(degraded)

    def feature_ages(self, ages: Iterable[float]) -> None:
        """Ages (s) of stored feature rows read (see ``fraudlens.scoring.freshness``)."""
        for age in ages:
            self.feature_age.observe(max(age, 0.0))

    def model_changed(self, version: str, alias: str) -> None:
        """The served model is now ``version`` (the previous one drops to 0)."""
        with self._lock:
            if self._model is not None and self._model != (version, alias):
                old_version, old_alias = self._model
                self.model_info.set(0, {"version": old_version, "alias": old_alias})
            self.model_info.set(1, {"version": version, "alias": alias})
            self._model = (version, alias)

    def shadow(self, compared: int, disagreed: int) -> None:
        """Challenger rows compared with the champion, and how many disagreed."""
        self.shadow_comparisons.inc(compared)
        self.shadow_disagreements.inc(disagreed)


class StreamScorerMetrics:
    """Throughput and lag of the stream scorer (decision metrics: ``ServingMetrics``)."""

    def __init__(self, backend: Backend) -> None:
        self.scored = backend.counter(
            "fraudlens_stream_scored", "Transactions scored by the stream scorer"
        )
        self.batch_seconds = backend.histogram(
            "fraudlens_stream_batch_seconds",
            "Seconds to score a micro-batch and publish its decisions",
            BATCH_BUCKETS,
        )
        self.lag = backend.gauge(
            "fraudlens_stream_lag_seconds",
            "Wall-clock time minus the event time of the newest transaction scored",
        )

    def batch(self, rows: int, seconds: float, newest_event_time: float) -> None:
        """One micro-batch published (``newest_event_time`` in epoch seconds)."""
        self.scored.inc(rows)
        self.batch_seconds.observe(seconds)
        self.lag.set(time.time() - newest_event_time)


_default: ServingMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> ServingMetrics:
    """This process's serving metrics, built on first use.

    Ray's metrics inside a Serve replica; elsewhere prometheus_client's global
    registry (with its process metrics), served by ``start_metrics_server``.
    """
    global _default
    with _default_lock:
        if _default is None:
            backend: Backend = RayBackend() if in_serve_replica() else PrometheusBackend(REGISTRY)
            _default = ServingMetrics(backend)
        return _default


def start_metrics_server(
    port: int, registry: CollectorRegistry = REGISTRY, host: str = "0.0.0.0"
) -> Callable[[], None]:
    """Serve ``/metrics`` of ``registry`` on ``host:port`` from a daemon thread.

    Returns:
        A function that stops the server (a no-op when ``port`` is 0: off).

    Raises:
        ConfigError: the port cannot be bound (``metrics.port``).
    """
    if port <= 0:
        return lambda: None
    from prometheus_client import start_http_server

    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"metrics.port: cannot serve /metrics on {host}:{port}: {exc}") from exc
    logger.info("serving /metrics on %s:%d", host, port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
