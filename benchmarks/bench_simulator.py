"""Simulator throughput: simulate about a million transactions and print rows/s.

Run: ``.venv/bin/python -m benchmarks.bench_simulator [--rows N] [--days D]``.
Parquet is written to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

from fraudlens.security import Tokenizer
from fraudlens.simulator import SimulatorConfig, customers_for_rows, simulate, write_simulation


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Simulate ``--rows`` transactions, write them to a temp dir, print the figures.

    Returns:
        The measured figures (rows, seconds, rows per second).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="target row count")
    parser.add_argument("--days", type=int, default=60, help="simulated days")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    args = parser.parse_args(argv)

    customers = customers_for_rows(args.rows, args.days)
    config = SimulatorConfig(
        customers=customers,
        terminals=max(2_000, customers // 3),
        days=args.days,
        seed=args.seed,
    )
    # Throwaway key: tokens from this run cannot be linked to any other run.
    tokenizer = Tokenizer("bench", {"bench": secrets.token_bytes(32)})

    started = time.perf_counter()
    sim = simulate(config, tokenizer)
    seconds = time.perf_counter() - started
    rows = len(sim.transactions)
    with tempfile.TemporaryDirectory(prefix="fraudlens-bench-") as tmp:
        started = time.perf_counter()
        paths = write_simulation(sim, Path(tmp))
        write_seconds = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in paths.values()) / 1e6

    print(
        f"simulate: {rows:,} rows ({sim.transactions['is_fraud'].sum():,} fraud) "
        f"from {config.customers:,} customers, {config.terminals:,} terminals, "
        f"{config.days} days in {seconds:.2f} s = {rows / seconds:,.0f} rows/s"
    )
    print(f"parquet:  {size_mb:.1f} MB written in {write_seconds:.2f} s")
    return {"rows": float(rows), "seconds": seconds, "rows_per_second": rows / seconds}


if __name__ == "__main__":
    main()
