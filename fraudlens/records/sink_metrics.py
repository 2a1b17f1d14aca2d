"""Prometheus metrics of the records sink (stored, duplicates, lag, errors).

Lag is the age of the newest decision of the last stored batch (now minus its
``scored_at``): how long after a decision it reaches PostgreSQL. It grows when
the sink falls behind the topic, and stays put when the sink is down (then
``up`` and the error counter tell).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

PREFIX = "fraudlens_records_sink"


class SinkMetrics:
    """The sink's metrics, registered in ``registry`` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.stored = Counter(
            f"{PREFIX}_stored", "Rows newly stored in PostgreSQL", ["kind"], registry=r
        )
        self.duplicates = Counter(
            f"{PREFIX}_duplicates",
            "Redelivered messages skipped (the row was already stored)",
            ["kind"],
            registry=r,
        )
        self.errors = Counter(
            f"{PREFIX}_errors", "Batches the database refused (offsets not committed)", registry=r
        )
        self.dead_letters = Counter(
            f"{PREFIX}_dead_letters", "Messages that cannot be stored, sent to the DLQ", registry=r
        )
        self.lag = Gauge(
            f"{PREFIX}_lag_seconds",
            "Now minus scored_at of the newest decision in the last stored batch",
            registry=r,
        )
        self.last_batch = Gauge(
            f"{PREFIX}_last_batch_timestamp_seconds",
            "Unix time of the last batch stored",
            registry=r,
        )
