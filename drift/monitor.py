"""The drift check: a recent window of the decision log vs the champion's reference.

``check_drift(settings)`` is what ``fraudlens drift check`` runs; ``DriftMonitor``
keeps fitted detectors between checks (``fraudlens drift watch``), since the
online detector's calibration is the costly part.
"""

from __future__ import annotations

import fnmatch
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from drift.detectors import DriftDetector, build_detector
from drift.metrics import DriftMetrics
from drift.reference import SCORE, Reference, load_reference
from drift.report import DriftReport, Status, render_html, store_report
from drift.sources import DecisionSource, ParquetSource, decision_source, reads_records
from fraudlens.scoring.decision_log import FEATURE_PREFIX
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """A half-open event-time range ``[start, end)`` of the decision log (UTC)."""

    start: datetime
    end: datetime

    @classmethod
    def last(cls, days: float, end: datetime | None = None) -> Window:
        """The ``days`` before ``end`` (default: now)."""
        end = end or datetime.now(UTC)
        return cls(end - timedelta(days=days), end)


def read_window(
    settings: Settings, window: Window, source: DecisionSource | None = None
) -> pd.DataFrame:
    """Decisions with ``window.start <= event_time < window.end``, at most ``window_rows``.

    Feature columns lose their ``f_`` prefix (from the records database, only
    the decisions whose vector was sampled are read, see ``drift.sources``;
    without enough of them, scores only); degraded decisions (scored
    without stored history) and rows without a score are left out, since
    their vectors are not what the model was trained on. The sample is an even
    one over the whole window, not the newest rows: those would cover a part of
    the week only, and weekday features would "drift".

    Args:
        settings: FraudLens settings (``drift.window_rows``).
        window: event-time range.
        source: where to read (default: the Parquet decision log).
    """
    source = source or ParquetSource(settings)
    frame = source.decisions(
        window.start,
        window.end,
        scored_only=True,
        at_most=settings.drift.window_rows,
        features=True,
    )
    if frame.empty:
        return frame
    frame = frame.sort_values("event_time").reset_index(drop=True)
    return frame.rename(columns=lambda c: c.removeprefix(FEATURE_PREFIX))


class DriftMonitor:
    """Checks windows against the champion's reference and exports the results.

    Args:
        settings: FraudLens settings.
        metrics: where results are exported (a fresh registry by default).
        reference_loader: returns the current reference (default: the champion's).
        source: where decisions are read (default: the Parquet decision log).
    """

    def __init__(
        self,
        settings: Settings,
        metrics: DriftMetrics | None = None,
        reference_loader: Callable[[Settings], Reference] | None = None,
        source: DecisionSource | None = None,
    ) -> None:
        self.settings = settings
        self.source = source or ParquetSource(settings)
        self.metrics = metrics or DriftMetrics()
        self._load_reference = reference_loader or load_reference
        self._detectors: dict[str, DriftDetector] = {}

    def check(self, window: Window | None = None) -> DriftReport:
        """Read the window from the decision log and check it (see ``check_frame``)."""
        window = window or Window.last(self.settings.drift.window_days)
        reference = self._load_reference(self.settings)
        frame = read_window(self.settings, window, self.source)
        return self.check_frame(frame, reference, window)

    def check_frame(
        self, frame: pd.DataFrame, reference: Reference, window: Window | None = None
    ) -> DriftReport:
        """Check decision rows (features + ``score`` + ``model_version``) against a reference.

        Only rows scored by the reference's model version are compared, so a
        window that straddles a model change never mixes two score scales.
        """
        cfg = self.settings.drift
        t0 = time.perf_counter()
        if "model_version" in frame.columns:
            frame = frame.loc[frame["model_version"].astype(str) == reference.model_version]
        report = DriftReport(
            checked_at=datetime.now(UTC),
            backend=cfg.backend,
            model_version=reference.model_version,
            window_start=window.start if window else _time(frame, min),
            window_end=window.end if window else _time(frame, max),
            rows=len(frame),
            reference_rows=len(reference.frame),
            status="insufficient_data",
        )
        span = _span_days(frame)
        wanted = checked_columns(reference, cfg.exclude_features)
        # a window of the records database without enough sampled vectors has scores only
        columns = [c for c in wanted if c in frame.columns] if len(frame) else wanted
        if len(frame) < cfg.min_window_rows:
            report.notes.append(
                f"{len(frame)} rows of model {reference.model_version} < "
                f"min_window_rows {cfg.min_window_rows}: no verdict"
            )
        elif span < cfg.min_window_days:
            report.notes.append(
                f"decisions of model {reference.model_version} span {span:.1f} days < "
                f"min_window_days {cfg.min_window_days}: no verdict"
            )
        else:
            if len(wanted) < len(reference.columns):
                report.notes.append(f"not tested: {sorted(set(reference.columns) - set(wanted))}")
            if len(columns) < len(wanted):
                missing = sorted(set(wanted) - set(columns))
                report.notes.append(f"not in the decisions read: {missing}")
            detector = self._detector(reference, columns)
            current = frame[columns]
            report.tabular = detector.tabular(current)
            if cfg.mmd:
                report.mmd = detector.mmd(current)
            if cfg.online:
                report.online = detector.online(current[SCORE].to_numpy())
            mmd_moved = report.mmd is not None and report.mmd.drifted
            status: Status = "drift" if report.tabular.drifted or mmd_moved else "no_drift"
            report.status = status
        report.seconds = time.perf_counter() - t0
        self._write(report, reference, frame)
        self.export(report)
        logger.info(
            "drift check of model %s: %s on %d rows, moved %s (%.2fs)",
            report.model_version,
            report.status,
            report.rows,
            report.moved,
            report.seconds,
        )
        return report

    def _detector(self, reference: Reference, columns: list[str]) -> DriftDetector:
        key = f"{reference.model_version}:{self.settings.drift.backend}:{','.join(columns)}"
        if key not in self._detectors:
            self._detectors = {key: build_detector(reference.frame[columns], self.settings.drift)}
        return self._detectors[key]

    def _write(self, report: DriftReport, reference: Reference, frame: pd.DataFrame) -> None:
        """The HTML page: kept on the report for its ``drift_checks`` row with a
        records database configured, else a file (and ``latest.html``)."""
        page = render_html(
            report,
            reference.frame,
            frame,
            _descriptions(),
            max_plots=self.settings.drift.report_plots,
        )
        if self.settings.records.database_url is not None:
            report.html = page  # stored with the check (drift.report.store_report)
            return
        folder = self.settings.drift.report_dir or self.settings.data_dir / "reports" / "drift"
        path = folder / f"drift-{report.checked_at:%Y%m%dT%H%M%S%f}.html"
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        shutil.copyfile(path, folder / "latest.html")
        report.html_path = path

    def export(self, report: DriftReport) -> None:
        """Set the gauges of the last check and count it."""
        m = self.metrics
        m.checks.labels(result=report.status).inc()
        m.window_rows.set(report.rows)
        m.last_check.set(report.checked_at.timestamp())
        m.duration.set(report.seconds)
        if report.tabular is None:
            return
        m.detected.set(float(report.drifted))
        m.features_tested.set(len(report.tabular.features))
        m.features_drifted.set(len(report.moved))
        m.threshold.set(report.tabular.threshold)
        for f in report.tabular.features:
            m.p_value.labels(feature=f.name, test=f.test).set(f.p_value)
            m.statistic.labels(feature=f.name).set(f.statistic)
            m.psi.labels(feature=f.name).set(f.psi)
            m.moved.labels(feature=f.name).set(float(f.drifted))
        if report.mmd is not None:
            m.mmd_p_value.set(report.mmd.p_value)
            m.mmd_statistic.set(report.mmd.statistic)
        if report.online is not None:
            m.online_detected.set(float(report.online.drifted))
            m.online_position.set(report.online.detected_at or 0)


def check_drift(
    settings: Settings, window: Window | None = None, metrics: DriftMetrics | None = None
) -> DriftReport:
    """One drift check of the recent decision log against the champion's reference.

    With ``records.database_url`` set, the check and its HTML page are stored
    in ``drift_checks``; otherwise the page is a file.

    Args:
        settings: FraudLens settings (``drift`` group).
        window: event-time range (default: the last ``drift.window_days``).
        metrics: where to export (default: a fresh registry, pushed to
            ``drift.pushgateway`` when set).

    Raises:
        ModelNotFoundError: no champion.
        RecordsError: ``drift.source`` is the records database and it cannot be read.
        DataError: the decision log lacks the reference's feature columns.
    """
    metrics = metrics or DriftMetrics()
    if reads_records(settings) or settings.records.database_url is not None:
        from fraudlens.records.engine import records_engine

        with records_engine(settings, pool_size=1) as engine:
            source = decision_source(settings, engine)
            report = DriftMonitor(settings, metrics, source=source).check(window)
            if settings.records.database_url is not None:
                store_report(engine, report)
    else:
        report = DriftMonitor(settings, metrics).check(window)
    if settings.drift.pushgateway:
        from prometheus_client import push_to_gateway

        push_to_gateway(
            settings.drift.pushgateway, job="fraudlens-drift", registry=metrics.registry
        )
    return report


def checked_columns(reference: Reference, exclude: list[str]) -> list[str]:
    """The reference columns the detectors test: all but those matching ``exclude`` globs."""
    return [c for c in reference.columns if not any(fnmatch.fnmatch(c, p) for p in exclude)]


def _span_days(frame: pd.DataFrame) -> float:
    """Days between the first and the last decision (0 without times)."""
    if frame.empty or "event_time" not in frame.columns:
        return 0.0
    times = pd.to_datetime(frame["event_time"], utc=True)
    return float((times.max() - times.min()) / pd.Timedelta(days=1))


def _time(frame: pd.DataFrame, pick: Callable[..., object]) -> datetime | None:
    if frame.empty or "event_time" not in frame.columns:
        return None
    value = pick(pd.to_datetime(frame["event_time"], utc=True))
    return value.floor("us").to_pydatetime() if isinstance(value, pd.Timestamp) else None


def _descriptions() -> dict[str, str]:
    try:
        from fraudlens.features.registry import ALL_FEATURES
    except ImportError:  # the registry is optional for the report
        return {}
    return {spec.name: spec.description for spec in ALL_FEATURES} | {SCORE: "model score"}
