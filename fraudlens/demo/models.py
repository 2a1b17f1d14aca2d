"""Demo step 4: train on the simulated history with Ray Train, gate it, print the evaluation."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.markdown import Markdown

from fraudlens.demo.state import DemoState

SOURCES = {
    "feast": "Feast historical features (DuckDB offline store)",
    "memory": "feature functions folded in-process (same values as Feast)",
}


def train_step(state: DemoState, console: Console) -> None:
    """Train on all days but the last, register the version and run the promotion gate."""
    from training import promote, train

    console.rule("4. train (Ray Train: XGBoost + PyTorch), register, promote")
    times = pd.read_parquet(state.sim_dir / "transactions.parquet", columns=["event_time"])
    first = times["event_time"].min().date()
    last = times["event_time"].max().date()
    # Training reads Feast (training.features_source=feast, the default): the
    # per-transaction feature rows the Spark backfill of step 3 wrote, through the
    # transaction_features view (a plain as-of join on transaction_id in DuckDB).
    settings = state.settings
    result = train(settings, first, last)
    console.print(
        f"training frame: {SOURCES.get(result.data_source, result.data_source)}, "
        f"{result.data_rows:,} rows in {result.seconds.get('data', 0.0):.0f} s"
    )
    console.print(f"registered model version {result.version} (MLflow run {result.run_id})")
    console.print(Markdown(result.test.markdown()))
    decision = promote(settings, result.version)
    verdict = "champion" if decision.promoted else "kept as challenger"
    console.print(f"promotion gate: version {decision.version} -> {verdict}")
    for reason in decision.reasons:
        console.print(f"  - {reason}")
    state.summary["model"] = {
        "version": result.version,
        "promoted": decision.promoted,
        "training_source": result.data_source,
        "test": result.test.metrics,
        "scored_day": str(last),
    }
