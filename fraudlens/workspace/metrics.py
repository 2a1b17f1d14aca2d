"""Workspace metrics for Prometheus, computed from PostgreSQL at each scrape.

Every replica answers the same figures (they come from the shared database,
not from per-process counters), so a scrape of any replica is right. The
endpoint needs no credentials, so a replica reads the database at most once
per ``min_interval`` seconds and answers scrapes in between from that read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from fraudlens.records.tables import case_events, cases

# Every series this collector exports (dashboards and alert rules use only these).
METRICS: tuple[tuple[str, str], ...] = (
    ("fraudlens_workspace_queue_size", "gauge"),
    ("fraudlens_workspace_oldest_case_age_seconds", "gauge"),
    ("fraudlens_workspace_sla_breached_cases", "gauge"),
    ("fraudlens_workspace_sla_seconds", "gauge"),
    ("fraudlens_workspace_verdicts", "gauge"),
)


class WorkspaceCollector(Collector):
    """Queue size, oldest open case age, cases past the SLA and verdicts per analyst."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        sla_minutes: int,
        min_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine  # called at each read: the database opens on first use
        self.sla_minutes = sla_minutes
        self.min_interval = min_interval
        self.clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        """The figures of the last read, read again when older than ``min_interval``."""
        with self._lock:
            now = self.clock()
            if self._last is None or now - self._last[0] >= self.min_interval:
                self._last = (now, list(self._read()))
            metrics = self._last[1]
        yield from metrics

    def _read(self) -> Iterator[Metric]:
        """Read the figures (one short query each)."""
        now = datetime.now(UTC)
        waiting = cases.c.status.in_(("open", "escalated"))
        with self.engine().connect() as conn:
            by_status = conn.execute(
                select(cases.c.status, func.count(), func.min(cases.c.opened_at))
                .where(waiting)
                .group_by(cases.c.status)
            ).all()
            breached = conn.execute(
                select(func.count()).where(
                    waiting, cases.c.opened_at < now - timedelta(minutes=self.sla_minutes)
                )
            ).scalar_one()
            per_actor = conn.execute(
                select(case_events.c.actor, case_events.c.action, func.count())
                .where(case_events.c.action.like("label:%"))
                .group_by(case_events.c.actor, case_events.c.action)
            ).all()
        size = GaugeMetricFamily(
            "fraudlens_workspace_queue_size", "Cases waiting for an analyst", labels=["status"]
        )
        oldest = GaugeMetricFamily(
            "fraudlens_workspace_oldest_case_age_seconds",
            "Age of the oldest open or escalated case (0 when the queue is empty)",
        )
        counts = {"open": 0, "escalated": 0}
        first: datetime | None = None
        for status, count, opened in by_status:
            counts[status] = int(count)
            first = opened if first is None or opened < first else first
        for status, count in counts.items():
            size.add_metric([status], count)
        oldest.add_metric([], (now - first).total_seconds() if first else 0.0)
        sla = GaugeMetricFamily(
            "fraudlens_workspace_sla_breached_cases",
            "Open or escalated cases older than workspace.sla_minutes",
        )
        sla.add_metric([], int(breached))
        sla_limit = GaugeMetricFamily(
            "fraudlens_workspace_sla_seconds", "The review SLA (workspace.sla_minutes) in seconds"
        )
        sla_limit.add_metric([], self.sla_minutes * 60.0)
        verdicts = GaugeMetricFamily(
            "fraudlens_workspace_verdicts",
            "Verdicts given, by analyst and verdict (a gauge read from PostgreSQL)",
            labels=["analyst", "verdict"],
        )
        for actor, action, count in per_actor:
            verdicts.add_metric([actor, action.removeprefix("label:")], int(count))
        yield from (size, oldest, sla, sla_limit, verdicts)
