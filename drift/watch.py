"""``fraudlens drift watch``: check, measure, maybe retrain, sleep; forever.

Exposes every drift metric on ``drift.metrics_port`` for Prometheus. On
Kubernetes one iteration runs per scheduled job (``fraudlens drift cycle``,
``iterations=1``); the loop's state lives in the records database, so each run
continues where the last one ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from drift.label_metrics import LabelPerformance, evaluate_labels
from drift.launchers import Launcher, make_launcher
from drift.metrics import DriftMetrics
from drift.monitor import DriftMonitor, Window
from drift.report import DriftReport
from drift.sources import decision_source
from drift.trigger import RetrainLoop, Verdict, state_path
from fraudlens.errors import FraudLensError, RecordsError
from fraudlens.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Iteration:
    """What one pass of the loop saw and did."""

    report: DriftReport | None
    performance: LabelPerformance | None
    verdict: Verdict


def watch(
    settings: Settings,
    iterations: int | None = None,
    *,
    launcher: Launcher | None = None,
    metrics: DriftMetrics | None = None,
    sleep: Callable[[float], None] = time.sleep,
    records: Engine | None | bool = True,
) -> list[Iteration]:
    """Run the drift/retraining loop.

    Args:
        settings: FraudLens settings (``drift`` group).
        iterations: passes to run (None: forever).
        launcher: retraining launcher (default: ``drift.launcher``).
        metrics: metrics registry holder (default: fresh, served on
            ``drift.metrics_port`` unless it is 0).
        sleep: waits ``drift.check_interval_s`` between passes (tests pass a fake).
        records: the records database holding the loop's state, checks and
            jobs; True (default): ``engine_from_settings``, falling back to the
            state file only when the embedded server cannot start; False: the
            state file.

    Returns:
        The passes run (when ``iterations`` is set).
    """
    if metrics is None:
        metrics = DriftMetrics()
        if settings.drift.metrics_port:
            from prometheus_client import start_http_server

            start_http_server(settings.drift.metrics_port, registry=metrics.registry)
    engine = records_engine(settings) if records is True else records or None
    monitor, loop = start_loop(settings, metrics, engine, launcher)
    done: list[Iteration] = []
    try:
        while iterations is None or len(done) < iterations:
            done.append(run_once(settings, monitor, loop))
            if iterations is None or len(done) < iterations:
                sleep(settings.drift.check_interval_s)
    finally:
        if records is True and engine is not None:  # ours: close its connections
            engine.dispose()
    return done


def start_loop(
    settings: Settings,
    metrics: DriftMetrics,
    engine: Engine | None,
    launcher: Launcher | None = None,
) -> tuple[DriftMonitor, RetrainLoop]:
    """The monitor and the retraining loop of one run, their state read from ``engine``.

    Args:
        settings: FraudLens settings.
        metrics: where both export.
        engine: the records database (None: the state file).
        launcher: retraining launcher (default: ``drift.launcher``).
    """
    monitor = DriftMonitor(settings, metrics, source=decision_source(settings, engine))
    loop = RetrainLoop(
        settings,
        launcher or make_launcher(settings, engine),
        metrics,
        state_path(settings),
        records=engine,
    )
    return monitor, loop


def records_engine(settings: Settings) -> Engine | None:
    """The records engine, or None (file state) when the embedded server cannot start.

    A configured ``records.database_url`` that fails raises: several monitors
    must not each go on with a state of their own.
    """
    from fraudlens.records.engine import engine_from_settings

    try:
        return engine_from_settings(settings, pool_size=1)
    except RecordsError as exc:
        if settings.records.database_url is not None:
            raise
        logger.warning("no records database (%s): the loop state stays in a file", exc)
        return None


def run_once(
    settings: Settings, monitor: DriftMonitor, loop: RetrainLoop, now: datetime | None = None
) -> Iteration:
    """One pass: drift check, matured-label performance, retraining decision.

    ``now``: the pass's clock (default: the wall clock; simulated days in
    ``drift.scenario``).
    """
    report: DriftReport | None = None
    perf: LabelPerformance | None = None
    try:
        report = monitor.check(Window.last(settings.drift.window_days, now))
    except FraudLensError as exc:  # no champion yet, empty log: try again next pass
        monitor.metrics.checks.labels(result="error").inc()
        logger.warning("drift check failed: %s", exc)
    try:
        version = report.model_version if report else None
        perf = evaluate_labels(
            settings, now, model_version=version, metrics=monitor.metrics, source=monitor.source
        )
    except FraudLensError as exc:
        logger.warning("label-based evaluation failed: %s", exc)
    return Iteration(report, perf, loop.observe(report, perf, now))
