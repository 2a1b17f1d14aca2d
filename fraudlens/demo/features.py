"""Demo step 3: Spark backfill -> Feast apply/materialize -> stream job -> an online vector."""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
from rich.console import Console
from rich.table import Table

from fraudlens.demo.state import DemoState
from fraudlens.features.batch import backfill
from fraudlens.features.registry import ALL_FEATURES
from fraudlens.features.repo import apply, materialize
from fraudlens.features.store import online_vector, open_store
from fraudlens.features.stream import run_stream_job


def features_step(state: DemoState, console: Console) -> None:
    """Build the offline store with Spark, fill the online store, run the stream job."""
    console.rule("3. features: Spark backfill, Feast, stream job")
    settings = state.settings
    console.print(f"feast apply: {len(apply(settings))} objects")

    result = backfill(
        settings, state.sim_dir / "transactions.parquet", state.sim_dir / "labels.parquet"
    )
    console.print(
        f"Spark backfill: {result.transactions:,} transactions and {result.labels:,} labels "
        f"-> {result.card_rows:,} card and {result.terminal_rows:,} terminal state rows, "
        f"{result.transaction_rows:,} transaction feature rows "
        f"in {result.spark_seconds + result.publish_seconds:.1f} s"
    )
    transactions = pd.read_parquet(state.sim_dir / "transactions.parquet")
    # Materialize only the last day's state rows: the stream job below replays every event
    # into the online store anyway, so loading the whole history here would be wasted work.
    end = transactions["event_time"].max().to_pydatetime()
    materialize(settings, end - timedelta(days=1), end)
    console.print("feast materialize: the last day's state loaded into the online store")

    started = time.perf_counter()
    # The backfill already wrote the offline store: the stream job only updates online.
    stats = run_stream_job(settings, idle_timeout=10.0, offline=False)
    console.print(
        f"stream feature job: {stats.applied:,} events folded, {stats.rows_pushed:,} state rows "
        f"pushed, {stats.dead_lettered} dead-lettered, in {time.perf_counter() - started:.1f} s"
    )
    state.summary["features"] = {"backfill": result.__dict__, "stream_applied": stats.applied}

    last = transactions.iloc[-1].to_dict()
    vector = online_vector(open_store(settings), last)
    descriptions = {spec.name: spec.description for spec in ALL_FEATURES}
    table = Table("feature", "value", "meaning", title=f"online vector of {last['transaction_id']}")
    for name, value in vector.items():
        table.add_row(
            name,
            f"{value:.4g}" if isinstance(value, float) else str(value),
            descriptions.get(name, ""),
        )
    console.print(table)
