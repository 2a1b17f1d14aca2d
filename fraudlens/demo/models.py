"""Demo step 4: train on the simulated history with Ray Train, gate it, print the evaluation."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.markdown import Markdown

from fraudlens.demo.state import DemoState


def train_step(state: DemoState, console: Console) -> None:
    """Train on all days but the last, register the version and run the promotion gate."""
    from training import promote, train

    console.rule("4. train (Ray Train: XGBoost + PyTorch), register, promote")
    times = pd.read_parquet(state.sim_dir / "transactions.parquet", columns=["event_time"])
    first = times["event_time"].min().date()
    last = times["event_time"].max().date()
    result = train(state.settings, first, last)
    console.print(f"registered model version {result.version} (MLflow run {result.run_id})")
    console.print(Markdown(result.test.markdown()))
    decision = promote(state.settings, result.version)
    verdict = "champion" if decision.promoted else "kept as challenger"
    console.print(f"promotion gate: version {decision.version} -> {verdict}")
    for reason in decision.reasons:
        console.print(f"  - {reason}")
    state.summary["model"] = {
        "version": result.version,
        "promoted": decision.promoted,
        "test": result.test.metrics,
        "scored_day": str(last),
    }
