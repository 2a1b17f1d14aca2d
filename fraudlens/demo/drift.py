"""Demo step 6: concept drift -> drift monitor -> retraining -> gate -> recovery.

Runs ``drift.scenario`` in its own folder and model registry name, so the
champion of the earlier steps is left alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console

from fraudlens.demo.logs import quiet_status
from fraudlens.demo.state import DemoState

_ROOT = Path(__file__).resolve().parents[2]


def drift_step(state: DemoState, console: Console) -> None:
    """Play the drift story on simulated days and print its timeline and artefacts."""
    from drift.scenario import ScenarioConfig, run_scenario, scenario_settings

    console.rule("6. concept drift: monitor, retraining loop, promotion gate")
    base = state.settings
    mlflow = base.mlflow.model_copy(update={"model_name": f"{base.mlflow.model_name}-drift-demo"})
    settings = scenario_settings(
        base.model_copy(update={"data_dir": base.data_dir / "drift-scenario", "mlflow": mlflow})
    )
    cfg = ScenarioConfig()
    console.print(
        f"{cfg.customers} customers, {cfg.days} simulated days; new fraud pattern "
        f"{cfg.new_pattern!r} from day {cfg.onset_day}; the first champion trains on days "
        f"{cfg.warmup_days}-{cfg.first_train_days - 1} and serves from day {cfg.first_train_days}"
    )
    quiet = [logging.getLogger(n) for n in ("drift.monitor", "drift.label_metrics")]
    levels = [q.level for q in quiet]
    for q in quiet:  # one line per check and day: the timeline below says it better
        q.setLevel(logging.WARNING)
    try:
        with quiet_status(console, "playing the simulated days (trains up to a few models)..."):
            result = run_scenario(settings, cfg)
    finally:
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
    console.print(result.table(), highlight=False, soft_wrap=True)
    console.print(result.summary(), highlight=False, soft_wrap=True)
    reports = settings.drift.report_dir or settings.data_dir / "reports" / "drift"
    console.print(f"drift reports: {reports / 'latest.html'} (one per check in {reports})")
    for path in sorted((_ROOT / "monitoring" / "grafana" / "dashboards").glob("*.json")):
        console.print(f"grafana dashboard: {path}")
    console.print(f"prometheus config: {_ROOT / 'monitoring' / 'prometheus' / 'prometheus.yml'}")
    console.print(f"prometheus rules: {_ROOT / 'monitoring' / 'prometheus' / 'rules'}")
    state.summary["drift"] = {
        "onset_day": result.onset_day,
        "drift_day": result.drift_day,
        "false_alarms": result.false_alarms,
        "retrain_days": result.retrain_days,
        "promoted_day": result.promoted_day,
        "ap_before": result.ap_before,
        "ap_after": result.ap_after,
        "report": result.report_path,
    }
