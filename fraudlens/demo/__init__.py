"""``fraudlens demo``: the whole flow on embedded defaults, told step by step.

1. simulate history -> 2. Kafka round trip -> 3. features (Spark backfill,
Feast apply/materialize, stream job) -> 4. train, evaluate, promote ->
5. serve and score the last day (API and stream scorer) -> 5b. decisions and
labels into PostgreSQL -> 6. the drift story
(new fraud pattern, drift, retraining, new champion) -> 7. the analyst
workspace's queue -> last: card-number scan of every output.
"""

from __future__ import annotations

from rich.console import Console

from fraudlens.demo.drift import drift_step
from fraudlens.demo.features import features_step
from fraudlens.demo.ingest import kafka_step, simulate_step
from fraudlens.demo.logs import demo_log_path, logs_to_file
from fraudlens.demo.models import train_step
from fraudlens.demo.pan_scan import pan_scan_step
from fraudlens.demo.records import records_step
from fraudlens.demo.serving import serving_step
from fraudlens.demo.state import DemoState
from fraudlens.demo.workspace import workspace_step
from fraudlens.pipeline import kafka_for
from fraudlens.settings import Settings

__all__ = ["DemoState", "run_demo"]


def run_demo(settings: Settings, console: Console) -> DemoState:
    """Run every demo step and print what each one did."""
    from ray_apps.run import start_ray

    state = DemoState(settings=settings, sim_dir=settings.data_dir / "sim")
    log_path = demo_log_path(settings.data_dir)
    console.rule("[bold]FraudLens demo")
    console.print(f"data folder: {settings.data_dir}")
    console.print(f"log file (everything but the steps' results): {log_path}")
    try:
        with logs_to_file(log_path, settings.log_level, console):
            simulate_step(state, console)
            with kafka_for(settings) as live:
                state.settings = live
                kafka_step(state, console)
                features_step(state, console)
                # One Ray for every step, with Serve's production switches; its
                # workers print to their own log files, not this terminal.
                start_ray(live, log_to_driver=False)
                train_step(state, console)
                serving_step(state, console)
                records_step(state, console)
                drift_step(state, console)
                workspace_step(state, console)  # the cases to work next
                pan_scan_step(state, console)  # keep last: it checks every other step's output
    finally:
        console.print(f"log file: {log_path}")
    console.rule("[bold]done")
    return state
