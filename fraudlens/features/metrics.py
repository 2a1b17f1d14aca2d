"""Prometheus metrics of the stream feature job (throughput, lag, errors)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "fraudlens_features"


class StreamMetrics:
    """The stream job's metrics, registered in ``registry`` (a fresh one by default).

    Expose them with ``prometheus_client.start_http_server(port, registry=...)``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events = Counter(f"{PREFIX}_events", "Valid events consumed", ["topic"], registry=r)
        self.dead_letters = Counter(
            f"{PREFIX}_dead_letters",
            "Invalid events sent to the dead-letter topic",
            ["topic"],
            registry=r,
        )
        self.late_events = Counter(
            f"{PREFIX}_late_events", "Events that arrived behind the watermark", registry=r
        )
        self.duplicates = Counter(
            f"{PREFIX}_duplicate_transactions", "Transaction ids seen before (skipped)", registry=r
        )
        self.ignored_labels = Counter(
            f"{PREFIX}_ignored_labels",
            "Labels that did not become fraud marks (not fraud, unknown, too late, repeated)",
            registry=r,
        )
        self.rows_pushed = Counter(
            f"{PREFIX}_rows_pushed", "State rows pushed to the online store", ["view"], registry=r
        )
        self.rows_offline = Counter(
            f"{PREFIX}_rows_offline",
            "State rows written to the offline store",
            ["view"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            f"{PREFIX}_batch_seconds",
            "Seconds to fold and push one released micro-batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.buffered = Gauge(
            f"{PREFIX}_buffered_events", "Events waiting for the watermark", registry=r
        )
        self.watermark_lag = Gauge(
            f"{PREFIX}_watermark_lag_seconds",
            "Wall-clock time minus the event time of the last released event",
            registry=r,
        )
        self.consumer_lag = Gauge(
            f"{PREFIX}_consumer_lag",
            "Messages between the high watermark and the consumer position",
            ["topic", "partition"],
            registry=r,
        )
        self.throughput = Gauge(
            f"{PREFIX}_events_per_second", "Events applied per second (last interval)", registry=r
        )
        self.online_write_retries = Counter(
            f"{PREFIX}_online_write_retries",
            "Online-store pushes retried after a transient error (Redis blip)",
            registry=r,
        )


def observe_consumer_lag(consumer: Any, metrics: StreamMetrics) -> None:
    """Set ``consumer_lag`` per assigned partition (high watermark - position).

    Asks the broker for each partition, so call it every few seconds, not per
    batch. Some test brokers report wrong high watermarks: do not assert on it.
    """
    from confluent_kafka import KafkaException

    for tp in consumer.assignment():
        try:
            _, high = consumer.get_watermark_offsets(tp, timeout=1.0, cached=False)
            position = consumer.position([tp])[0].offset
        except KafkaException:
            continue
        if position >= 0:
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(high - position)
