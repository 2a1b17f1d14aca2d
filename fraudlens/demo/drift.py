"""Demo step 6: concept drift -> drift monitor -> retraining -> gate -> recovery.

Runs ``drift.scenario`` in its own folder and model registry name, so the
champion of the earlier steps is left alone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from fraudlens.demo.logs import quiet_status
from fraudlens.demo.state import DemoState

if TYPE_CHECKING:
    from drift.scenario import DayRow

_ROOT = Path(__file__).resolve().parents[2]


def drift_step(state: DemoState, console: Console) -> None:
    """Play the drift story on simulated days and print its timeline and artefacts."""
    from drift.scenario import ScenarioConfig, run_scenario, scenario_settings

    console.rule("6. concept drift: monitor, retraining loop, promotion gate")
    settings = scenario_settings(state.settings)  # the scenario test's settings function
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
    console.print(timeline_table(result.timeline))
    console.print(result.summary(), highlight=False, soft_wrap=True)
    if settings.records.database_url is not None:  # stored with each check
        console.print(
            f"drift reports: 'fraudlens drift report > report.html' ({result.report_path})"
        )
    else:
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


def timeline_table(rows: Sequence[DayRow]) -> Table:
    """The drift timeline, one row per simulated day; "-" where a day has no value.

    A day has no p-value when no detector ran, and no AP until labels have
    matured over the days the champion served.
    """
    table = Table(
        title="drift timeline, one row per simulated day served",
        caption="AP: average precision on matured labels; upper: its 95 % bound (the trigger's)",
        box=box.SIMPLE_HEAD,
    )
    for name in ("day", "drift", "min p", "AP", "upper"):
        table.add_column(name, justify="right" if name != "drift" else "left", no_wrap=True)
    table.add_column("features moved", max_width=26)
    table.add_column("model", no_wrap=True)
    table.add_column("event", ratio=1)
    for row in rows:
        moved = row.moved[0] if row.moved else "-"
        if len(row.moved) > 1:
            moved += f" +{len(row.moved) - 1}"  # how many more features moved
        table.add_row(
            str(row.day),
            row.status,
            _figure(row.min_p_value, ".1e"),
            _figure(row.ap, ".4f"),
            _figure(row.ap_upper, ".4f"),
            moved,
            f"v{row.champion}" if row.champion else "-",
            row.event,
        )
    return table


def _figure(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)
