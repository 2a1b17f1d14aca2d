"""Features per ODFV batch: row by row (definitions) vs numpy (features.compute).

Run: ``.venv/bin/python -m benchmarks.bench_compute [--tx-per-day R] [--repeats N]``.

Each row is a card with ~31 days of history (Poisson, ``--tx-per-day`` a day
on average, 2 by default; the simulator's customers make about 0.8) and a
request at the end of it, in the column layout Feast hands to the card ODFV; its terminal has 31 days of
counts and a few fraud marks. Both paths return the same lists (checked); the
time is the best of ``--repeats`` calls of ``odfv.card_feature_columns`` (and
``terminal_feature_columns``) per batch size (the least disturbed by other
processes on a shared machine), the median beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fraudlens.features.odfv import (
    VECTOR_MIN_ROWS,
    card_feature_columns,
    terminal_feature_columns,
)
from fraudlens.features.state import (
    CARD_BLOB,
    CARD_MAX_EVENTS,
    US_PER_DAY,
    US_PER_SECOND,
    CardState,
    TerminalState,
)
from fraudlens.features.state_codec import card_row, card_views, terminal_row

NOW = int(datetime(2026, 6, 1, 12, tzinfo=UTC).timestamp()) * US_PER_SECOND
SIZES = (1, VECTOR_MIN_ROWS, 64, 512)


def batch(rows: int, tx_per_day: float, seed: int = 3) -> dict[str, list[Any]]:
    """ODFV inputs: ``rows`` cards with ~31 days of history, one request each."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list[Any]] = {}

    def add(**values: Any) -> None:
        for key, value in values.items():
            cols.setdefault(key, []).append(value)

    for _ in range(rows):
        n = min(int(rng.poisson(tx_per_day * 31)), CARD_MAX_EVENTS)
        ts = np.sort(NOW - rng.integers(1, 31 * US_PER_DAY, n)).tolist()
        home = rng.uniform(-50, 60), rng.uniform(-120, 140)
        terminals = [f"t{k}" for k in rng.integers(0, 5_000, 8)]
        card = CardState(
            ts=ts,
            amount=np.round(rng.lognormal(3.5, 1.0, n), 2).tolist(),
            terminal=[terminals[k] for k in rng.integers(0, 8, n)],
            merchant=[f"m{k}" for k in rng.integers(0, 40, n)],
            country=["FR" if k else "DE" for k in rng.integers(0, 20, n)],
            lat=(home[0] + rng.normal(0, 0.2, n)).tolist(),
            lon=(home[1] + rng.normal(0, 0.2, n)).tolist(),
            device=[(k + 1) * 7 if k < 2 else 0 for k in rng.integers(0, 5, n)],
            ip=[(k + 1) * 11 if k < 2 else 0 for k in rng.integers(0, 5, n)],
        )
        terminal = TerminalState(
            day=list(range(NOW // US_PER_DAY - 31, NOW // US_PER_DAY + 1)),
            tx=rng.integers(1, 200, 32).tolist(),
            amount_cents=rng.integers(100, 10**7, 32).tolist(),
            fraud_label_us=np.sort(NOW - rng.integers(0, 20 * US_PER_DAY, 3)).tolist(),
            fraud_day=(NOW // US_PER_DAY - rng.integers(1, 25, 3)).tolist(),
        )
        add(
            **card_row(card),
            **terminal_row(terminal),
            req_time_us=NOW,
            req_amount=round(float(rng.lognormal(3.5, 1.0)), 2),
            req_terminal_id=terminals[int(rng.integers(0, 9)) % 8],
            req_merchant_id=f"m{rng.integers(0, 40)}",
            req_country="FR",
            req_lat=home[0],
            req_lon=home[1],
            req_device=int(rng.integers(1, 4)) * 7,
            req_ip=int(rng.integers(1, 4)) * 11,
        )
    return cols


def _timings_ms(
    columns: Callable[[dict[str, list[Any]], int], Any], inputs: dict[str, list[Any]], repeats: int
) -> tuple[list[float], list[float]]:
    """Row-by-row and numpy call times, interleaved so both see the same load."""
    loop: list[float] = []
    numpy: list[float] = []
    for _ in range(repeats):
        for vector_min_rows, timings in ((sys.maxsize, loop), (1, numpy)):
            started = time.perf_counter()
            columns(inputs, vector_min_rows)
            timings.append((time.perf_counter() - started) * 1000)
    return loop, numpy


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time both paths for each batch size; print and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tx-per-day", type=float, default=2.0, help="card transactions a day")
    parser.add_argument("--repeats", type=int, default=20, help="calls per measurement")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    for rows in SIZES:
        inputs = batch(rows, args.tx_per_day)
        events = sum(len(card_views(b).ts) for b in inputs[CARD_BLOB]) / rows
        for entity, columns in (
            ("card", card_feature_columns),
            ("terminal", terminal_feature_columns),
        ):
            assert columns(inputs, 1) == columns(inputs, sys.maxsize), "numpy path differs"
            loop_ms, numpy_ms = _timings_ms(columns, inputs, args.repeats)
            loop, numpy = min(loop_ms), min(numpy_ms)
            print(
                f"{entity:8s} features, {rows:4d} rows ({events:.0f} card events a state): "
                f"row by row {loop:8.3f} ms (median {statistics.median(loop_ms):8.3f}), "
                f"numpy {numpy:7.3f} ms (median {statistics.median(numpy_ms):7.3f}): "
                f"{loop / numpy:5.1f}x, {rows / numpy * 1000:,.0f} rows/s"
            )
            figures[f"{entity}_rows_{rows}"] = {
                "row_wise_ms": loop,
                "numpy_ms": numpy,
                "card_events": events,
            }
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
