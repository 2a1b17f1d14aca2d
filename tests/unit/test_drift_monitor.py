"""The drift check end to end on a real decision log: window, report, metrics, watch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from drift.launchers import JobResult
from drift.metrics import DriftMetrics
from drift.monitor import DriftMonitor, Window, read_window
from drift.reference import Reference, read_reference, reference_from_model, save_reference
from drift.sources import decisions_dir
from drift.synthetic import decision_rows, synthetic_rows
from drift.watch import watch
from fraudlens.errors import ModelError
from fraudlens.scoring.decision_log import FEATURE_PREFIX, ParquetLog
from fraudlens.settings import DriftSettings, Settings

COLUMNS = {"amount": "float64", "count_1d": "int64", "is_night": "int64", "km": "float64"}
DAY = pd.Timestamp("2026-07-10", tz="UTC")


def _settings(tmp_path: Path, **drift: object) -> Settings:
    cfg: dict[str, object] = {
        "backend": "scipy",
        "min_window_rows": 200,
        "min_window_days": 0.0,
        "mmd_subsample": 100,
        "mmd_permutations": 30,
        "online_ert": 200,
        "persistence": 1,
        "metrics_port": 0,
    } | drift
    return Settings(data_dir=tmp_path, drift=DriftSettings.model_validate(cfg))


def _reference() -> Reference:
    frame = synthetic_rows(1500, seed=11, columns=COLUMNS)
    return Reference("5", list(COLUMNS), frame)


def _write_log(settings: Settings, rows: pd.DataFrame) -> None:
    renamed = rows.rename(columns={c: FEATURE_PREFIX + c for c in COLUMNS})
    log = ParquetLog(decisions_dir(settings), "api", flush_rows=10**9)
    log.append(renamed.to_dict("records"))
    log.flush()


def _day(seed: int, shift: dict[str, float] | None = None, version: str = "5") -> pd.DataFrame:
    feats = synthetic_rows(1200, seed=seed, columns=COLUMNS, shift=shift)
    return decision_rows(feats, version, DAY, seconds=86_399, id_prefix=f"s{seed}-")


def _value(metrics: DriftMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_read_window_filters_time_version_and_degraded(tmp_path: Path) -> None:
    settings = _settings(tmp_path, window_rows=500)
    rows = _day(1)
    rows.loc[:9, "degraded"] = True
    _write_log(settings, rows)
    frame = read_window(settings, Window(DAY.to_pydatetime(), (DAY + timedelta(days=1))))
    assert len(frame) == 500 and not frame["degraded"].any()
    assert set(COLUMNS) <= set(frame.columns) and frame["event_time"].is_monotonic_increasing
    empty = read_window(settings, Window.last(1.0, datetime(2020, 1, 2, tzinfo=UTC)))
    assert empty.empty


def test_shifted_window_is_reported_exported_and_written(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _write_log(settings, _day(2, shift={"amount": 0.6, "is_night": 1.5}))
    metrics = DriftMetrics()
    monitor = DriftMonitor(settings, metrics, reference_loader=lambda _: _reference())
    report = monitor.check(Window(DAY.to_pydatetime(), (DAY + timedelta(days=1)).to_pydatetime()))
    assert report.status == "drift" and set(report.moved) == {"amount", "is_night"}
    assert report.rows == 1200 and report.mmd is not None and report.online is not None
    html = report.html_path
    assert html is not None and html.exists() and (html.parent / "latest.html").exists()
    text = html.read_text()
    assert "data:image/png;base64," in text and "amount" in text and "DRIFT" in text
    assert _value(metrics, "fraudlens_drift_detected") == 1.0
    assert _value(metrics, "fraudlens_drift_features_drifted") == 2.0
    assert _value(metrics, "fraudlens_drift_feature_drifted", feature="amount") == 1.0
    assert _value(metrics, "fraudlens_drift_checks_total", result="drift") == 1.0
    p = _value(metrics, "fraudlens_drift_feature_p_value", feature="is_night", test="chi2")
    assert p is not None and p < 1e-6
    assert report.to_dict()["moved"] == report.moved


def test_same_distribution_and_too_few_rows(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    monitor = DriftMonitor(settings, reference_loader=lambda _: _reference())
    quiet = monitor.check_frame(_day(3), _reference())
    assert quiet.status == "no_drift" and quiet.moved == []
    other_version = monitor.check_frame(_day(4, version="4"), _reference())
    assert other_version.status == "insufficient_data" and other_version.rows == 0
    assert "no verdict" in other_version.notes[0]
    assert other_version.html_path is not None and other_version.html_path.exists()


def test_report_plots_caps_the_figures_moved_columns_first(tmp_path: Path) -> None:
    shifted = _day(2, shift={"amount": 0.6, "is_night": 1.5})
    for plots, figures in ((1, 1), (0, 0)):
        settings = _settings(tmp_path / str(plots), report_plots=plots)
        report = DriftMonitor(settings).check_frame(shifted, _reference())
        assert report.status == "drift" and report.html_path is not None
        text = report.html_path.read_text()
        assert text.count("<figure>") == figures and "<td>km</td>" in text  # the table stays
        assert ('alt="amount"' in text or 'alt="is_night"' in text) == bool(figures)


@dataclass
class _Ref:
    features: pd.DataFrame
    scores: np.ndarray


@dataclass
class _Model:
    version: str
    feature_names: list[str]
    reference: Any


def test_reference_from_model_and_cache(tmp_path: Path) -> None:
    feats = synthetic_rows(50, seed=5, columns=COLUMNS)
    model = _Model("9", list(COLUMNS), _Ref(feats[list(COLUMNS)], feats["score"].to_numpy()))
    ref = reference_from_model(model)
    assert ref.columns == [*COLUMNS, "score"] and len(ref.frame) == 50
    save_reference(ref, tmp_path)
    back = read_reference(tmp_path, "9")
    assert back is not None and back.feature_names == list(COLUMNS)
    pd.testing.assert_frame_equal(back.frame, ref.frame)
    assert read_reference(tmp_path, "10") is None
    with pytest.raises(ModelError, match="no drift reference"):
        reference_from_model(_Model("9", list(COLUMNS), None))


class _Launcher:
    def __init__(self) -> None:
        self.launched = 0

    def launch(self, start: object, end: object) -> str:
        self.launched += 1
        return "job"

    def poll(self, job_id: str) -> JobResult | None:
        return JobResult("promoted", "6", [])


def test_watch_runs_checks_and_launches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, window_days=2.0)
    now = datetime.now(UTC)
    rows = decision_rows(
        synthetic_rows(800, seed=6, columns=COLUMNS, shift={"km": 1.0}),
        "5",
        pd.Timestamp(now - timedelta(hours=20)),
        seconds=3600,
    )
    _write_log(settings, rows)
    monkeypatch.setattr("drift.monitor.load_reference", lambda _: _reference())
    launcher, metrics, slept = _Launcher(), DriftMetrics(), []
    done = watch(settings, 2, launcher=launcher, metrics=metrics, sleep=slept.append, records=False)
    assert [it.report.status for it in done if it.report] == ["drift", "drift"]
    assert launcher.launched == 1 and done[1].verdict.suppressed == "cooldown"
    assert slept == [settings.drift.check_interval_s]
    assert (tmp_path / "drift" / "state.json").exists()
    assert _value(metrics, "fraudlens_retrain_outcomes_total", outcome="promoted") == 1.0
