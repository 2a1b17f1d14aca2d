"""The concept-drift story end to end: real Ray Train, MLflow, decision log and detectors.

One seeded run (``drift.scenario``, a few minutes on 2 CPUs); the test checks
the milestones in order, not figures.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pytest

from drift.scenario import ScenarioConfig, ScenarioResult, run_scenario, scenario_settings
from fraudlens.settings import Settings

CONFIG = ScenarioConfig(seed=7)
MAX_DETECTION_DAYS = 7  # drift must be flagged within a week of the onset
MARGIN = 0.05  # AP gain of the new champion over the first one, same days


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def result(ray_cluster: None, tmp_path_factory: pytest.TempPathFactory) -> ScenarioResult:
    # 34 daily checks: their HTML reports without distribution plots (~4 s a check)
    base = Settings(data_dir=tmp_path_factory.mktemp("drift-scenario"), drift={"report_plots": 0})
    settings = scenario_settings(base)
    out = run_scenario(settings, CONFIG)
    print(out.table())
    print(out.summary())
    return out


def test_no_drift_before_onset(result: ScenarioResult) -> None:
    checked = [
        r for r in result.timeline if r.day < CONFIG.onset_day and r.status != "insufficient_data"
    ]
    assert checked, "no drift verdict before the onset: the false-alarm check did not run"
    assert result.false_alarms == []


def test_drift_flagged_soon_after_onset(result: ScenarioResult) -> None:
    assert result.drift_day is not None
    assert CONFIG.onset_day <= result.drift_day <= CONFIG.onset_day + MAX_DETECTION_DAYS


def test_milestones_in_order(result: ScenarioResult) -> None:
    assert result.drift_day is not None and result.retrain_days and result.promoted_day is not None
    assert result.drift_day < result.retrain_days[0] <= result.promoted_day
    assert result.promoted_day in result.retrain_days
    if result.drop_day is not None:  # the label-based trigger, when it fires, follows the drift
        assert result.drop_day > result.drift_day
    # the champion changes only through a promotion (the day after a retraining), after onset
    versions = [r.champion for r in result.timeline]
    changed = [
        r.day
        for r, prev in zip(result.timeline[1:], versions[:-1], strict=True)
        if r.champion != prev
    ]
    assert changed and changed[0] == result.promoted_day + 1
    assert all(day - 1 in result.retrain_days for day in changed)


def test_performance_drops_after_onset(result: ScenarioResult) -> None:
    # the first champion, judged with every label: worse once the new pattern runs
    assert result.ap_before < result.ap_pre_onset - MARGIN
    # and the loop saw it: a matured-label AP below the first champion's baseline
    baseline = next(r.ap for r in result.timeline if not math.isnan(r.ap))
    first = [r.ap for r in result.timeline if r.champion == result.first_version]
    assert min(a for a in first if not math.isnan(a)) < baseline


def test_final_champion_recovers_detection(result: ScenarioResult) -> None:
    assert result.final_day is not None and result.final_version != result.first_version
    assert result.ap_after > result.ap_before + MARGIN
    assert result.pattern_ap_after > result.pattern_ap_before + MARGIN
