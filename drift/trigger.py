"""The retraining loop: persistent drift or a label-based performance drop -> retrain.

Rules, applied on every observation:
- drift counts only when it persists: ``drift.persistence`` consecutive checks
  with a drift verdict (a check without a verdict leaves the count as it is);
- performance drops when matured-label AP, even at its upper confidence bound
  (``drift.ap_confidence``), is below ``(1 - drift.ap_drop)`` times the
  version's baseline (its first sufficient measurement of a period it served
  throughout);
- one job at a time, and none within ``drift.cooldown_hours`` of the last
  launch (no retrain storms);
- the job goes through the promotion gate: the champion changes only if the
  gate passes.
Every trigger, suppression and outcome is logged, counted in metrics and kept
in the loop's state, which survives restarts: in PostgreSQL (``records``: the
``drift_loop_state`` row of the model, every check in ``drift_checks``, every
job in ``retrain_jobs``) or, without a records database, in a JSON file.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drift.label_metrics import LabelPerformance
from drift.launchers import JobResult, Launcher
from drift.metrics import DriftMetrics
from drift.report import DriftReport, store_report
from fraudlens.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 500


@dataclass
class LoopState:
    """What the loop remembers between observations (saved as JSON)."""

    consecutive_drift: int = 0
    last_launch: str | None = None  # ISO time
    running: dict[str, str] | None = None  # job_id, reason, launched_at
    baselines: dict[str, float] = field(default_factory=dict)  # model version -> AP
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """The loop's answer to one observation."""

    reasons: list[str]
    launched: str | None = None  # job id
    suppressed: str | None = None  # cooldown | running
    finished: JobResult | None = None


class RetrainLoop:
    """Decides when to retrain and launches jobs through a ``Launcher``.

    Args:
        settings: FraudLens settings (``drift`` group).
        launcher: starts jobs (see ``drift.launchers``).
        metrics: counters and gauges to update.
        state_path: JSON state file, used only without ``records``; None (and
            no ``records``): in memory only.
        records: the records database: the state is its ``drift_loop_state``
            row (keyed by ``mlflow.model_name``); checks and jobs are stored too.
    """

    def __init__(
        self,
        settings: Settings,
        launcher: Launcher,
        metrics: DriftMetrics | None = None,
        state_path: Path | None = None,
        *,
        records: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.launcher = launcher
        self.metrics = metrics or DriftMetrics()
        self.state_path = state_path
        self.records = records
        self.state = self._load()

    def observe(
        self,
        drift: DriftReport | None = None,
        performance: LabelPerformance | None = None,
        now: datetime | None = None,
    ) -> Verdict:
        """Take one drift check and/or performance measurement; maybe launch a job.

        ``now`` is the loop's clock (simulated time in the scenario).
        """
        cfg = self.settings.drift
        now = now or datetime.now(UTC)
        if drift is not None:
            self._record_check(drift)
        finished = self._poll(now)
        reasons: list[str] = []
        if drift is not None and drift.status != "insufficient_data":
            self.state.consecutive_drift = self.state.consecutive_drift + 1 if drift.drifted else 0
            self.metrics.consecutive.set(self.state.consecutive_drift)
            if self.state.consecutive_drift >= cfg.persistence:
                reasons.append(
                    f"drift in {self.state.consecutive_drift} consecutive checks "
                    f"(moved: {', '.join(drift.moved[:5]) or 'MMD'})"
                )
        if performance is not None and self._dropped(performance):
            base = self.state.baselines[performance.model_version]
            reasons.append(
                f"matured-label AP {performance.average_precision:.4f} "
                f"(upper bound {performance.ap_bound:.4f}) < {1 - cfg.ap_drop:.2f} x "
                f"baseline {base:.4f} (model {performance.model_version})"
            )
        verdict = Verdict(reasons, finished=finished)
        if reasons:
            verdict = self._maybe_launch(reasons, now, finished)
        self._save()
        return verdict

    def _dropped(self, perf: LabelPerformance) -> bool:
        if not perf.sufficient or math.isnan(perf.average_precision):
            return False
        base = self.state.baselines.get(perf.model_version)
        if base is None:
            if not perf.whole_period:  # a partial period is no baseline
                return False
            self.state.baselines[perf.model_version] = perf.average_precision
            self.metrics.baseline_ap.labels(model_version=perf.model_version).set(
                perf.average_precision
            )
            self._event(
                "baseline", perf.as_of, version=perf.model_version, ap=perf.average_precision
            )
            return False
        return perf.ap_bound < (1.0 - self.settings.drift.ap_drop) * base

    def _maybe_launch(
        self, reasons: list[str], now: datetime, finished: JobResult | None
    ) -> Verdict:
        kind = "_and_".join(sorted({r.split()[0] for r in reasons}))  # drift / matured-label
        kind = kind.replace("matured-label", "performance")
        if self.state.running is not None:
            return self._suppress("running", reasons, now, finished)
        cooldown = timedelta(hours=self.settings.drift.cooldown_hours)
        if (
            self.state.last_launch
            and now - datetime.fromisoformat(self.state.last_launch) < cooldown
        ):
            return self._suppress("cooldown", reasons, now, finished)
        end = now.date()
        start = end - timedelta(days=self.settings.drift.retrain_days)
        job_id = self.launcher.launch(start, end)
        if self.records is not None:
            from fraudlens.records.operations import start_retrain_job

            with self.records.begin() as conn:
                start_retrain_job(conn, job_id, now)
        self.state.running = {"job_id": job_id, "reason": kind, "launched_at": now.isoformat()}
        self.state.last_launch = now.isoformat()
        self.state.consecutive_drift = 0  # the next model brings its own reference
        self.metrics.triggers.labels(reason=kind).inc()
        self.metrics.running.set(1)
        self.metrics.last_trigger.set(now.timestamp())
        self._event(
            "launch", now, job_id=job_id, reason=kind, detail=reasons, window=[str(start), str(end)]
        )
        logger.warning("retraining %s launched (%s): %s", job_id, kind, "; ".join(reasons))
        # Saved before the first poll, which runs an inline job to its end: if this
        # process dies meanwhile, the next pass finds the job and reads its fate.
        self._save()
        return Verdict(reasons, launched=job_id, finished=self._poll(now) or finished)

    def _suppress(
        self, why: str, reasons: list[str], now: datetime, finished: JobResult | None
    ) -> Verdict:
        self.metrics.suppressed.labels(reason=why).inc()
        self._event("suppressed", now, why=why, detail=reasons)
        logger.info("retraining wanted but suppressed (%s): %s", why, "; ".join(reasons))
        return Verdict(reasons, suppressed=why, finished=finished)

    def _poll(self, now: datetime) -> JobResult | None:
        running = self.state.running
        if running is None:
            return None
        result = self.launcher.poll(running["job_id"])
        if result is None:
            return None
        self.state.running = None
        if self.records is not None:
            from fraudlens.records.operations import finish_retrain_job

            with self.records.begin() as conn:
                finish_retrain_job(
                    conn, running["job_id"], result.outcome, result.version, result.reasons, now
                )
        self.metrics.running.set(0)
        self.metrics.outcomes.labels(outcome=result.outcome).inc()
        self._event("outcome", now, job_id=running["job_id"], **asdict(result))
        log = logger.error if result.outcome == "failed" else logger.warning
        log(
            "retraining %s ended: %s (version %s)",
            running["job_id"],
            result.outcome,
            result.version,
        )
        return result

    def _event(self, kind: str, at: datetime, **data: Any) -> None:
        self.state.history.append({"event": kind, "at": at.isoformat(), **data})
        del self.state.history[:-HISTORY_LIMIT]

    def _record_check(self, report: DriftReport) -> None:
        if self.records is not None:
            store_report(self.records, report)

    def _load(self) -> LoopState:
        if self.records is not None:
            from fraudlens.records.operations import load_loop_state

            with self.records.connect() as conn:
                saved = load_loop_state(conn, self.settings.mlflow.model_name)
            return LoopState(**saved) if saved else LoopState()
        if self.state_path is None or not self.state_path.exists():
            return LoopState()
        return LoopState(**json.loads(self.state_path.read_text()))

    def _save(self) -> None:
        if self.records is not None:
            from fraudlens.records.operations import save_loop_state

            state = json.loads(json.dumps(asdict(self.state), default=str))
            with self.records.begin() as conn:
                save_loop_state(conn, self.settings.mlflow.model_name, state, datetime.now(UTC))
            return
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(f".{self.state_path.name}.tmp")
        tmp.write_text(json.dumps(asdict(self.state), default=str, indent=1))
        tmp.replace(self.state_path)


def state_path(settings: Settings) -> Path:
    """The loop's state file (``drift.state_path`` or ``DATA_DIR/drift/state.json``)."""
    return settings.drift.state_path or settings.data_dir / "drift" / "state.json"
