"""The two places scoring metrics can go: prometheus_client or Ray's metrics.

``Backend`` creates metrics; both implementations take names without the
``_total`` suffix (prometheus_client adds it, and so does Ray's exporter).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge as PromGauge
from prometheus_client import Histogram as PromHistogram

Labels = Mapping[str, str]


class Metric(Protocol):
    """One metric of any kind; the methods that do not apply are never called."""

    def inc(self, value: float = 1.0, labels: Labels | None = None) -> None: ...

    def observe(self, value: float, labels: Labels | None = None) -> None: ...

    def set(self, value: float, labels: Labels | None = None) -> None: ...


class Backend(Protocol):
    """Creates metrics. ``name`` has no ``_total`` suffix (both backends add it)."""

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Metric: ...

    def histogram(
        self, name: str, doc: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Metric: ...

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Metric: ...


class _Prom:
    def __init__(self, metric: Any) -> None:
        self._metric = metric

    def _child(self, labels: Labels | None) -> Any:
        return self._metric.labels(**labels) if labels else self._metric

    def inc(self, value: float = 1.0, labels: Labels | None = None) -> None:
        self._child(labels).inc(value)

    def observe(self, value: float, labels: Labels | None = None) -> None:
        self._child(labels).observe(value)

    def set(self, value: float, labels: Labels | None = None) -> None:
        self._child(labels).set(value)


class PrometheusBackend:
    """prometheus_client metrics in ``registry`` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Metric:
        return _Prom(PromCounter(name, doc, list(labels), registry=self.registry))

    def histogram(
        self, name: str, doc: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Metric:
        return _Prom(
            PromHistogram(name, doc, list(labels), buckets=list(buckets), registry=self.registry)
        )

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Metric:
        return _Prom(PromGauge(name, doc, list(labels), registry=self.registry))


class _Ray:
    def __init__(self, metric: Any) -> None:
        self._metric = metric

    def inc(self, value: float = 1.0, labels: Labels | None = None) -> None:
        if value > 0:  # Ray refuses increments of 0
            self._metric.inc(value, tags=dict(labels) if labels else None)

    def observe(self, value: float, labels: Labels | None = None) -> None:
        self._metric.observe(value, tags=dict(labels) if labels else None)

    def set(self, value: float, labels: Labels | None = None) -> None:
        self._metric.set(value, tags=dict(labels) if labels else None)


class RayBackend:
    """``ray.util.metrics``: exported by Ray's metrics agent as ``ray_<name>``."""

    registry = None

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Metric:
        from ray.util.metrics import Counter

        return _Ray(Counter(name, doc, tag_keys=tuple(labels)))

    def histogram(
        self, name: str, doc: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Metric:
        from ray.util.metrics import Histogram

        return _Ray(Histogram(name, doc, boundaries=list(buckets), tag_keys=tuple(labels)))

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Metric:
        from ray.util.metrics import Gauge

        return _Ray(Gauge(name, doc, tag_keys=tuple(labels)))


def in_serve_replica() -> bool:
    """True inside a Ray Serve replica (without importing Ray when it is not loaded)."""
    if "ray" not in sys.modules:
        return False
    try:
        from ray import serve

        serve.get_replica_context()
    except Exception:  # RayServeException: not in a replica
        return False
    return True
