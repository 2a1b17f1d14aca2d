"""The concept-drift story, end to end, on simulated days.

A fraud pattern the first champion never saw (``saved_card_abuse``) starts on
``onset_day`` -> the drift monitor flags the window -> matured-label AP drops
as labels arrive -> the loop retrains on the latest window -> the challenger
goes through the gate (refused while too few labelled examples of the pattern
exist, promoted once it has learnt it) -> detection of the new pattern
recovers. Every day is scored by the current champion and written to the
real decision log; each day then runs the scheduled job's pass (``fraudlens
drift cycle``: ``drift.watch.run_once``) on a simulated clock, with the loop's
state and jobs in the records database and the retraining job
(``retrain_and_promote``: Ray Train, the gate, the audit chain) as a task on
the local Ray (``drift.scenario_world``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from drift.launchers import JobResult, make_launcher
from drift.metrics import DriftMetrics
from drift.monitor import DriftMonitor
from drift.scenario_world import ScenarioWorld
from drift.trigger import RetrainLoop
from drift.watch import records_engine, run_once, start_loop
from fraudlens.errors import FraudLensError
from fraudlens.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScenarioConfig:
    """Sizes and dates of the story (days are indices from the first simulated day).

    The first ``warmup_days`` are history only: before them the 30-day window
    features are not full. The first champion trains on
    ``[warmup_days, first_train_days)`` and serves from ``first_train_days``.
    """

    new_pattern: str = "saved_card_abuse"
    warmup_days: int = 30
    first_train_days: int = 60
    onset_day: int = 70
    days: int = 94
    customers: int = 2_000
    fraud_rate: float = 0.02
    seed: int = 7


SCENARIO_FOLDER = "drift-scenario"  # under the base settings' data dir
MODEL_SUFFIX = "-drift-demo"  # after the base settings' registered model name


def scenario_settings(settings: Settings) -> Settings:
    """The story's settings from ``settings``: the demo's and the scenario test's alike.

    Its own folder (``DATA_DIR/drift-scenario``) and registered model name
    (``<model_name>-drift-demo``), so the champion of ``settings`` is left
    alone. Sized for simulated days and a small, cheap training run (one Ray
    Train worker). Label delay 5 days (with validation and test of 3 days, a
    retraining on ``[start, end)`` learns from days before ``end - 11``); daily
    checks of a 7-day window with the license-free scipy backend, 30-day
    aggregates left out; drift must persist 5 checks; cooldown 8 days.
    """
    training = settings.training.model_copy(
        update={
            "label_delay_days": 5,
            "validation_days": 3,
            "test_days": 3,
            "imbalance_powers": [0.5],
            "xgb_rounds": 120,
            "xgb_early_stopping": 20,
            "mlp_epochs": 2,
            "cards_per_day": 20,
            "reference_rows": 5_000,
            "ray_workers": 1,  # a Ray Train run of these sizes is mostly start-up: one worker
        }
    )
    drift = settings.drift.model_copy(
        update={
            "backend": "scipy",
            # 30-day aggregates and the matured windows (lagged a week) move with the
            # reference's age (it is sampled 2-5 weeks before serving starts): the
            # story tests short-horizon behaviour
            "exclude_features": [*settings.drift.exclude_features, "*_30d", "term_matured_*"],
            "launcher": "ray_task",
            "window_days": 7.0,
            "persistence": 5,
            "cooldown_hours": 8 * 24.0,
            "retrain_days": 35,
            "performance_days": 7,
            "min_window_rows": 1_000,
            "min_labelled_frauds": 10,
            "metrics_port": 0,
        }
    )
    mlflow = settings.mlflow.model_copy(
        update={"model_name": settings.mlflow.model_name + MODEL_SUFFIX}
    )
    return settings.model_copy(
        update={
            "data_dir": settings.data_dir / SCENARIO_FOLDER,
            "mlflow": mlflow,
            "training": training,
            "drift": drift,
        }
    )


@dataclass
class DayRow:
    """One line of the printed timeline."""

    day: int
    status: str
    min_p_value: float
    moved: list[str]
    ap: float
    ap_upper: float  # its upper confidence bound: what the trigger compares
    champion: str
    event: str = ""


@dataclass
class ScenarioResult:
    """The timeline and its milestones (simulated day indices)."""

    timeline: list[DayRow] = field(default_factory=list)
    onset_day: int = 0
    drift_day: int | None = None  # first drift verdict on or after onset
    false_alarms: list[int] = field(default_factory=list)  # drift verdicts before onset
    drop_day: int | None = None
    retrain_days: list[int] = field(default_factory=list)
    promoted_day: int | None = None  # first promotion
    first_version: str = ""
    new_version: str | None = None  # first promoted version
    final_day: int | None = None  # last promotion
    final_version: str | None = None
    ap_pre_onset: float = math.nan  # first champion before the onset (all labels)
    ap_before: float = math.nan  # first champion, days after the last promotion (all labels)
    ap_after: float = math.nan  # final champion, the same days
    pattern_ap_before: float = math.nan  # the same, new pattern vs legitimate rows only
    pattern_ap_after: float = math.nan
    wall_seconds: float = 0.0
    onset_to_champion_seconds: float = math.nan  # wall-clock, onset day served -> promoted
    report_path: str | None = None  # the last check's HTML page
    baseline_ap: float = math.nan  # the loop's matured-label baseline of the first champion
    # (day, the restarted monitor knew the running job) for each job that ran past its launch
    restarts: list[tuple[int, bool]] = field(default_factory=list)

    @property
    def onset_to_champion_days(self) -> int | None:
        """Simulated days from the onset to the new champion."""
        return None if self.promoted_day is None else self.promoted_day - self.onset_day

    def table(self) -> str:
        """The timeline as aligned text."""
        lines = [
            "day  drift      min p     moved                        AP(matured) (upper)  model  event"
        ]
        for r in self.timeline:
            moved = ",".join(r.moved[:2]) + ("..." if len(r.moved) > 2 else "")
            lines.append(
                f"{r.day:>3}  {r.status:<9} {r.min_p_value:9.1e}  {moved[:28]:<28} "
                f"{r.ap:11.4f} ({r.ap_upper:.4f})  {r.champion:>5}  {r.event}"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        """The milestones in a few lines."""
        return "\n".join(
            [
                f"onset day {self.onset_day}; drift flagged day {self.drift_day}; "
                f"false alarms before onset: {self.false_alarms or 'none'}",
                (
                    "matured-label AP drop: not flagged"
                    if self.drop_day is None
                    else f"matured-label AP drop flagged day {self.drop_day}"
                )
                + f"; retraining days {self.retrain_days}; "
                f"new champion v{self.new_version} day {self.promoted_day} "
                f"({self.onset_to_champion_days} simulated days, "
                f"{self.onset_to_champion_seconds:.0f} s wall-clock after onset)",
                f"first champion v{self.first_version}, all labels: AP {self.ap_pre_onset:.4f} "
                f"before onset, {self.ap_before:.4f} after day {self.final_day}; final champion "
                f"v{self.final_version} on the same days: {self.ap_after:.4f}; "
                f"new pattern AP {self.pattern_ap_before:.4f} -> {self.pattern_ap_after:.4f}",
                f"run time {self.wall_seconds:.0f} s",
            ]
        )


class Comparer(Protocol):
    """What the verdict needs from the world: two versions' AP on the same days."""

    def compare(self, old: str, new: str, first_day: int, end_day: int) -> dict[str, float]: ...


def compare_after_last_promotion(result: ScenarioResult, world: Comparer, end_day: int) -> None:
    """Judge the first and the final champion on the days the final one served.

    The final champion serves from the day after its promotion (``final_day``)
    to ``end_day``: both versions are scored on those days only, so the verdict
    does not mix in days when the final champion did not exist yet. Without a
    promotion the figures stay NaN.
    """
    if result.final_day is None or result.final_version is None:
        return
    after = world.compare(result.first_version, result.final_version, result.final_day + 1, end_day)
    result.ap_before, result.ap_after = after["ap_old"], after["ap_new"]
    result.pattern_ap_before = after["pattern_ap_old"]
    result.pattern_ap_after = after["pattern_ap_new"]


def run_scenario(settings: Settings, cfg: ScenarioConfig | None = None) -> ScenarioResult:
    """Play the story day by day; returns (and logs) the timeline and milestones.

    Each simulated day is one pass of ``fraudlens drift cycle`` (``drift.watch.run_once``
    with the monitor and loop ``drift.watch.start_loop`` builds), on the clock of
    that day, its state in the records database (``records.database_url``, or
    an embedded server). While a retraining runs, the monitor restarts (a new
    monitor and loop, as the next scheduled run would be) and waits for the
    outcome the job stores in ``retrain_jobs``. ``settings`` are used as given
    (see ``scenario_settings`` for the sizes the story is tuned for); its data
    dir should be empty.

    Raises:
        FraudLensError: a stage failed (training data, model registry, ...).
    """
    from training.pipeline import train
    from training.promote import promote

    cfg = cfg or ScenarioConfig()
    wall = time.perf_counter()
    world = ScenarioWorld(
        settings,
        customers=cfg.customers,
        days=cfg.days,
        fraud_rate=cfg.fraud_rate,
        seed=cfg.seed,
        new_pattern=cfg.new_pattern,
        onset_day=cfg.onset_day,
    )
    world.publish_labels()
    start, end = world.at(cfg.warmup_days).date(), world.at(cfg.first_train_days).date()
    first = train(settings, start, end, data=world.training_data(start, end))
    promote(settings, first.version)
    engine = records_engine(settings)
    try:
        result = _play(settings, cfg, world, engine, str(first.version))
    finally:
        if engine is not None:
            engine.dispose()
    result.ap_pre_onset = world.average_precision(
        result.first_version, cfg.first_train_days, cfg.onset_day
    )
    compare_after_last_promotion(result, world, cfg.days)
    result.wall_seconds = time.perf_counter() - wall
    return result


def _play(
    settings: Settings,
    cfg: ScenarioConfig,
    world: ScenarioWorld,
    engine: Engine | None,
    first_version: str,
) -> ScenarioResult:
    """The served days, one drift cycle each, from the first champion on."""
    metrics = DriftMetrics()
    job = world.job()

    def restart() -> tuple[DriftMonitor, RetrainLoop]:
        return start_loop(settings, metrics, engine, make_launcher(settings, engine, job))

    monitor, loop = restart()
    result = ScenarioResult(onset_day=cfg.onset_day, first_version=first_version)
    onset_wall = math.nan
    for day in range(cfg.first_train_days, cfg.days):
        if day == cfg.onset_day:
            onset_wall = time.perf_counter()
        champion = world.serve_day(day)
        now = world.at(day + 1)
        it = run_once(settings, monitor, loop, now)
        report, perf, verdict = it.report, it.performance, it.verdict
        finished = verdict.finished
        if verdict.launched and finished is None:  # a job runs
            if engine is not None:  # the monitor restarts: the job is known from its row
                monitor, loop = restart()
                running = loop.state.running or {}
                result.restarts.append((day, running.get("job_id") == verdict.launched))
            finished = wait_for_outcome(loop, now)
        p_values = report.p_values() if report else {}
        row = DayRow(
            day,
            report.status if report else "error",
            min(p_values.values(), default=math.nan),
            report.moved if report else [],
            math.nan if perf is None else perf.average_precision,
            math.nan if perf is None else perf.ap_bound,
            champion,
        )
        if report is not None and report.drifted:
            if day < cfg.onset_day:
                result.false_alarms.append(day)
            elif result.drift_day is None:
                result.drift_day = day
        if result.drop_day is None and any(r.startswith("matured-label") for r in verdict.reasons):
            result.drop_day = day
        if verdict.launched:
            result.retrain_days.append(day)
            why = " + ".join(sorted({r.split()[0] for r in verdict.reasons}))
            row.event = f"retrain ({why})"
        elif verdict.suppressed:
            row.event = f"({verdict.suppressed})"
        if finished is not None:
            row.event += f" -> v{finished.version} {finished.outcome}"
            if finished.outcome == "promoted":
                result.final_day, result.final_version = day, finished.version
                if result.promoted_day is None:
                    result.promoted_day = day
                    result.new_version = finished.version
                    result.onset_to_champion_seconds = time.perf_counter() - onset_wall
        if report is not None:  # a file, or its row (records database configured)
            result.report_path = str(report.html_path or f"drift_checks {report.check_id}")
        result.timeline.append(row)
        logger.debug("day %d: %s", day, row)
    result.baseline_ap = loop.state.baselines.get(result.first_version, math.nan)
    return result


def wait_for_outcome(loop: RetrainLoop, now: datetime, timeout_s: float = 900.0) -> JobResult:
    """Poll the running job (the day's clock stands still) until its outcome is stored.

    Raises:
        FraudLensError: no outcome within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while (finished := loop.observe(now=now).finished) is None:
        if time.monotonic() > deadline:
            raise FraudLensError(f"no retraining outcome within {timeout_s:.0f} s")
        time.sleep(0.5)
    return finished
