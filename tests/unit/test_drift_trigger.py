"""The retraining loop: persistence, performance drop, cooldown, one job at a time."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from drift.label_metrics import LabelPerformance
from drift.launchers import InlineLauncher, JobResult, job_env
from drift.metrics import DriftMetrics
from drift.report import DriftReport, Status
from drift.trigger import RetrainLoop
from fraudlens.settings import DriftSettings, Settings

T0 = datetime(2026, 7, 1, tzinfo=UTC)


class FakeLauncher:
    """Records launches; jobs finish when ``finish`` is called."""

    def __init__(self) -> None:
        self.launched: list[tuple[date, date]] = []
        self.results: dict[str, JobResult | None] = {}

    def launch(self, start: date, end: date) -> str:
        self.launched.append((start, end))
        job_id = f"job{len(self.launched)}"
        self.results[job_id] = None
        return job_id

    def poll(self, job_id: str) -> JobResult | None:
        return self.results[job_id]

    def finish(self, outcome: str = "promoted") -> None:
        job_id = f"job{len(self.launched)}"
        self.results[job_id] = JobResult(outcome, "7", ["gate says so"])  # type: ignore[arg-type]


def _settings(tmp_path: Path, **drift: object) -> Settings:
    cfg = {"persistence": 3, "cooldown_hours": 24.0, "retrain_days": 28} | drift
    return Settings(data_dir=tmp_path, drift=DriftSettings.model_validate(cfg))


def _report(status: Status) -> DriftReport:
    return DriftReport(T0, "scipy", "6", None, None, 1000, 2000, status)


def _perf(
    ap: float, version: str = "6", frauds: int = 50, upper: float | None = None
) -> LabelPerformance:
    return LabelPerformance(
        version, T0, T0, T0, 1000, frauds, ap, 0.5, 0.5, 0.01, frauds >= 20, upper
    )


def _value(metrics: DriftMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_drift_must_persist(tmp_path: Path) -> None:
    launcher, metrics = FakeLauncher(), DriftMetrics()
    loop = RetrainLoop(_settings(tmp_path), launcher, metrics)
    hour = timedelta(hours=1)
    sequence: list[Status] = ["drift", "drift", "no_drift", "drift", "insufficient_data", "drift"]
    for i, status in enumerate(sequence):
        assert loop.observe(_report(status), now=T0 + i * hour).launched is None
    verdict = loop.observe(_report("drift"), now=T0 + 6 * hour)
    assert verdict.launched == "job1" and "3 consecutive" in verdict.reasons[0]
    assert launcher.launched == [(date(2026, 6, 3), date(2026, 7, 1))]
    assert _value(metrics, "fraudlens_retrain_triggers_total", reason="drift") == 1
    assert _value(metrics, "fraudlens_retrain_running") == 1
    assert loop.state.consecutive_drift == 0


def test_one_job_at_a_time_then_cooldown(tmp_path: Path) -> None:
    launcher, metrics = FakeLauncher(), DriftMetrics()
    loop = RetrainLoop(_settings(tmp_path, persistence=1), launcher, metrics)
    assert loop.observe(_report("drift"), now=T0).launched == "job1"
    running = loop.observe(_report("drift"), now=T0 + timedelta(hours=1))
    assert running.suppressed == "running"
    launcher.finish("promoted")
    cooled = loop.observe(_report("drift"), now=T0 + timedelta(hours=2))
    assert cooled.finished is not None and cooled.finished.outcome == "promoted"
    assert cooled.suppressed == "cooldown" and cooled.launched is None
    later = loop.observe(_report("drift"), now=T0 + timedelta(hours=25))
    assert later.launched == "job2"
    assert _value(metrics, "fraudlens_retrain_suppressed_total", reason="running") == 1
    assert _value(metrics, "fraudlens_retrain_suppressed_total", reason="cooldown") == 1
    assert _value(metrics, "fraudlens_retrain_outcomes_total", outcome="promoted") == 1
    assert len(launcher.launched) == 2


def test_performance_drop_against_the_first_measurement(tmp_path: Path) -> None:
    launcher, metrics = FakeLauncher(), DriftMetrics()
    loop = RetrainLoop(_settings(tmp_path, ap_drop=0.2), launcher, metrics)
    assert loop.observe(performance=_perf(0.60), now=T0).reasons == []  # baseline
    assert _value(metrics, "fraudlens_label_baseline_average_precision", model_version="6") == 0.6
    assert loop.observe(performance=_perf(0.50), now=T0).launched is None  # -17 %: fine
    assert loop.observe(performance=_perf(0.30, frauds=5), now=T0).launched is None  # too few
    assert loop.observe(performance=_perf(math.nan), now=T0).launched is None
    # below the threshold, but the noise of the matured frauds allows 0.50: no verdict
    assert loop.observe(performance=_perf(0.40, upper=0.50), now=T0).launched is None
    verdict = loop.observe(performance=_perf(0.40, upper=0.45), now=T0)
    assert verdict.launched == "job1" and "baseline 0.6000" in verdict.reasons[0]
    assert "upper bound 0.4500" in verdict.reasons[0]
    assert _value(metrics, "fraudlens_retrain_triggers_total", reason="performance") == 1
    # a new champion gets its own baseline
    assert loop.observe(performance=_perf(0.30, version="7"), now=T0).reasons == []


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    launcher = FakeLauncher()
    loop = RetrainLoop(_settings(tmp_path, persistence=2), launcher, state_path=path)
    loop.observe(_report("drift"), now=T0)
    loop.observe(performance=_perf(0.5), now=T0)
    again = RetrainLoop(_settings(tmp_path, persistence=2), launcher, state_path=path)
    assert again.state.consecutive_drift == 1 and again.state.baselines == {"6": 0.5}
    assert again.observe(_report("drift"), now=T0).launched == "job1"
    third = RetrainLoop(_settings(tmp_path, persistence=2), launcher, state_path=path)
    assert third.state.running is not None and third.state.running["job_id"] == "job1"
    assert [e["event"] for e in third.state.history] == ["baseline", "launch"]


def test_inline_launcher_outcome_is_recorded_at_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path, persistence=1)
    calls: list[tuple[date, date]] = []

    def body(_: Settings, start: date, end: date) -> JobResult:
        calls.append((start, end))
        return JobResult("refused", "8", ["does not beat the champion"])

    metrics = DriftMetrics()
    loop = RetrainLoop(settings, InlineLauncher(settings, body), metrics)
    verdict = loop.observe(_report("drift"), now=T0)
    assert verdict.finished == JobResult("refused", "8", ["does not beat the champion"])
    assert loop.state.running is None and len(calls) == 1
    assert _value(metrics, "fraudlens_retrain_outcomes_total", outcome="refused") == 1
    assert _value(metrics, "fraudlens_retrain_running") == 0


@pytest.mark.parametrize("kind", ["drift", "performance"])
def test_both_reasons_are_labelled(tmp_path: Path, kind: str) -> None:
    metrics = DriftMetrics()
    loop = RetrainLoop(_settings(tmp_path, persistence=1), FakeLauncher(), metrics)
    loop.observe(performance=_perf(0.9), now=T0)
    drift = _report("drift") if kind == "drift" else _report("no_drift")
    loop.observe(drift, _perf(0.1), now=T0)
    label = "drift_and_performance" if kind == "drift" else "performance"
    assert _value(metrics, "fraudlens_retrain_triggers_total", reason=label) == 1


def test_ray_jobs_get_the_settings_but_not_the_secrets() -> None:
    from fraudlens.deploy.check import SECRET_ENV

    environ = {name: "s3cret" for name in SECRET_ENV} | {
        "FRAUDLENS_MODE": "production",
        "FRAUDLENS_DRIFT__LAUNCHER": "ray_job",
        "HOME": "/home/ray",
    }
    env = job_env(environ)
    assert env == {"FRAUDLENS_MODE": "production", "FRAUDLENS_DRIFT__LAUNCHER": "ray_job"}
    assert "FRAUDLENS_SECURITY__TOKEN_KEYS" in SECRET_ENV  # the list names the real ones


def test_a_partly_served_period_is_no_baseline(tmp_path: Path) -> None:
    launcher = FakeLauncher()
    loop = RetrainLoop(_settings(tmp_path, ap_drop=0.2), launcher)
    partial = replace(_perf(0.95), whole_period=False)  # promoted in the middle of the period
    assert loop.observe(performance=partial, now=T0).reasons == []
    assert loop.state.baselines == {}
    assert loop.observe(performance=_perf(0.60), now=T0).reasons == []  # the first whole one
    assert loop.state.baselines == {"6": 0.60}
