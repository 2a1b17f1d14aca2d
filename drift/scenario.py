"""The concept-drift story, end to end, on simulated days.

A fraud pattern starts on ``onset_day`` -> the drift monitor flags the window
-> matured-label AP drops as labels arrive -> the loop retrains on the latest
window -> the challenger passes the gate and becomes champion -> detection of
the new pattern recovers. Every day is scored by the current champion and
written to the real decision log; the monitor, the label metrics and the
retraining loop are the production ones, driven by a simulated clock.

Features come from ``training.local_features`` (in memory, no Feast), so the
scenario needs the simulator, the training pipeline and the promotion gate,
but no running services besides local Ray (used by training).
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from drift.label_metrics import evaluate_labels
from drift.launchers import InlineLauncher, JobResult, Outcome
from drift.metrics import DriftMetrics
from drift.monitor import DriftMonitor, Window, decisions_dir
from drift.trigger import RetrainLoop
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScenarioConfig:
    """Sizes and dates of the story (days are indices from the first simulated day).

    The first ``warmup_days`` are history only: before them the 30-day window
    features are not full, and a reference sampled there drifts by itself.
    """

    new_pattern: str = "account_takeover"
    warmup_days: int = 30
    first_train_days: int = 66  # the first champion trains on [warmup_days, first_train_days)
    onset_day: int = 72
    days: int = 100
    customers: int = 2_000
    fraud_rate: float = 0.02
    seed: int = 7


def scenario_settings(settings: Settings) -> Settings:
    """Settings sized for simulated days: short label delay, daily checks, 3-day cooldown."""
    training = settings.training.model_copy(
        update={"label_delay_days": 7, "validation_days": 5, "test_days": 5}
    )
    drift = settings.drift.model_copy(
        update={
            "launcher": "inline",
            "persistence": 3,
            "cooldown_hours": 72.0,
            "retrain_days": 30,
            "performance_days": 7,
            "min_window_rows": 200,
            "min_labelled_frauds": 10,
            "metrics_port": 0,
        }
    )
    return settings.model_copy(update={"training": training, "drift": drift})


@dataclass
class DayRow:
    """One line of the printed timeline."""

    day: int
    status: str
    min_p_value: float
    moved: int
    ap: float
    champion: str
    event: str = ""


@dataclass
class ScenarioResult:
    """The timeline and its milestones (simulated day indices)."""

    timeline: list[DayRow] = field(default_factory=list)
    onset_day: int = 0
    drift_day: int | None = None
    drop_day: int | None = None
    retrain_day: int | None = None
    promoted_day: int | None = None
    ap_before: float = math.nan
    ap_after: float = math.nan
    wall_seconds: float = 0.0
    onset_to_champion_seconds: float = math.nan  # wall-clock, onset day served -> promoted
    report_path: str | None = None

    def table(self) -> str:
        """The timeline as aligned text."""
        lines = ["day  status     min p     moved  AP(matured)  champion  event"]
        for r in self.timeline:
            lines.append(
                f"{r.day:>3}  {r.status:<9} {r.min_p_value:9.2e} {r.moved:>5}  "
                f"{r.ap:11.4f}  {r.champion:>8}  {r.event}"
            )
        return "\n".join(lines)


class _World:
    """The simulated bank: transactions, labels, features; scores days with the champion."""

    def __init__(self, settings: Settings, cfg: ScenarioConfig) -> None:
        from fraudlens.security.tokenize import Tokenizer
        from fraudlens.simulator import SimulatorConfig, simulate
        from training.local_features import compute_features

        self.settings = settings
        sim_cfg = SimulatorConfig(
            customers=cfg.customers,
            terminals=max(600, cfg.customers // 3),
            days=cfg.days,
            fraud_rate=cfg.fraud_rate,
            seed=cfg.seed,
            scenario_start_day={cfg.new_pattern: cfg.onset_day},
        )
        # throwaway key: tokens of this run link to nothing else
        sim = simulate(sim_cfg, Tokenizer("scn", {"scn": secrets.token_bytes(32)}))
        tx = sim.transactions.reset_index(drop=True)
        self.frame = pd.concat([tx, compute_features(tx)], axis=1)
        self.labels = sim.labels
        self.start = datetime.combine(sim_cfg.start_date, datetime.min.time(), UTC)
        self._models: dict[str, Any] = {}

    def at(self, day: int) -> datetime:
        return self.start + timedelta(days=day)

    def training_data(self, start: date, end: date) -> Any:
        from fraudlens.features import FEATURE_NAMES
        from training.dataset import from_frame

        svc = self.settings.training.feature_service
        return from_frame(self.frame, list(FEATURE_NAMES), svc, start, end)

    def retrain(self, settings: Settings, start: date, end: date) -> JobResult:
        """The job body with in-memory data: train on the window, gate on its test period."""
        from training.pipeline import train
        from training.promote import promote

        trained = train(settings, start, end, data=self.training_data(start, end))
        test_start = end - timedelta(days=settings.training.test_days)
        decision = promote(settings, trained.version, holdout=self.training_data(test_start, end))
        outcome: Outcome = "promoted" if decision.promoted else "refused"
        return JobResult(outcome, decision.version, list(decision.reasons))

    def serve_day(self, day: int) -> str:
        """Score one day with the champion and append it to the decision log."""
        from fraudlens.model import load_model
        from fraudlens.scoring.decision_log import FEATURE_PREFIX, ParquetLog

        model = load_model(self.settings, "champion")
        t = pd.to_datetime(self.frame["event_time"], utc=True)
        rows = self.frame.loc[(t >= self.at(day)) & (t < self.at(day + 1))]
        scores = model.predict(rows)
        th = model.thresholds
        decision = np.where(
            scores >= th.decline, "decline", np.where(scores >= th.review, "review", "approve")
        )
        out = pd.DataFrame(
            {
                "transaction_id": rows["transaction_id"].to_numpy(),
                "event_time": t.loc[rows.index].to_numpy(),
                "score": scores,
                "decision": decision,
                "model_version": model.version,
                "degraded": False,
            }
        )
        for name in model.feature_names:
            out[FEATURE_PREFIX + name] = rows[name].to_numpy(dtype=np.float64)
        log = ParquetLog(decisions_dir(self.settings), "scenario", flush_rows=10**9)
        log.append(out.to_dict("records"))
        log.flush()
        return str(model.version)


def run_scenario(settings: Settings, cfg: ScenarioConfig | None = None) -> ScenarioResult:
    """Play the story day by day; returns (and logs) the timeline and milestones.

    Raises:
        FraudLensError: a stage failed (training data, model registry, ...).
    """
    from training.pipeline import train
    from training.promote import promote

    cfg = cfg or ScenarioConfig()
    wall = time.perf_counter()
    world = _World(settings, cfg)
    first_start = world.at(cfg.warmup_days).date()
    first_end = world.at(cfg.first_train_days).date()
    first = train(
        settings, first_start, first_end, data=world.training_data(first_start, first_end)
    )
    promote(settings, first.version)
    metrics = DriftMetrics()
    monitor = DriftMonitor(settings, metrics)
    loop = RetrainLoop(settings, InlineLauncher(settings, world.retrain), metrics)
    result = ScenarioResult(onset_day=cfg.onset_day)
    onset_wall = math.nan
    for day in range(cfg.first_train_days, cfg.days):
        champion = world.serve_day(day)
        now = world.at(day + 1)
        report = monitor.check(Window(now - timedelta(days=settings.drift.window_days), now))
        perf = evaluate_labels(
            settings, now, model_version=champion, labels=world.labels, metrics=metrics
        )
        verdict = loop.observe(report, perf, now)
        p_values = report.p_values()
        row = DayRow(
            day,
            report.status,
            min(p_values.values(), default=math.nan),
            len(report.moved),
            perf.average_precision,
            champion,
        )
        if report.drifted and day >= cfg.onset_day and result.drift_day is None:
            result.drift_day = day
        if verdict.reasons and any("AP" in r for r in verdict.reasons) and result.drop_day is None:
            result.drop_day = day
        if verdict.launched:
            result.retrain_day = result.retrain_day or day
            row.event = f"retrain ({'; '.join(verdict.reasons)[:60]})"
        if verdict.finished is not None:
            row.event += f" -> {verdict.finished.outcome} v{verdict.finished.version}"
            if verdict.finished.outcome == "promoted" and result.promoted_day is None:
                result.promoted_day = day
                result.onset_to_champion_seconds = time.perf_counter() - onset_wall
        if day == cfg.onset_day:
            result.ap_before = perf.average_precision
            onset_wall = time.perf_counter()
        result.ap_after = perf.average_precision
        result.report_path = str(report.html_path)
        result.timeline.append(row)
        logger.info("day %d: %s", day, row)
    result.wall_seconds = time.perf_counter() - wall
    return result
