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
    # The embedded offline store (Feast's file/dask store) takes minutes for a point-in-time
    # join over list-typed state at demo scale, so the demo folds the same feature functions
    # in-process; tests/integration/model_training/test_dataset_feast.py proves both give the same
    # rows. Production reads Feast's Spark offline store (training.features_source=feast).
    training_settings = state.settings.training.model_copy(update={"features_source": "memory"})
    settings = state.settings.model_copy(update={"training": training_settings})
    result = train(settings, first, last)
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
        "test": result.test.metrics,
        "scored_day": str(last),
    }
