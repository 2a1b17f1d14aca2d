"""Issue #12's targets beside the figures of one ``make bench`` run.

``TARGETS`` maps every row of the issue's "Figures to reach" table to the
figure a benchmark already prints. A figure is a key path into
``benchmarks.run``'s ``figures`` dict: names joined by ``/``, and
``field=value`` picks the row with that field from a list of rows (the wrk
rows of an app, say). Two keys make a ratio (first / second). ``print_targets``
prints one line per target: the measured figure, the target, and "met",
"NOT met", "not run" (its benchmark was not asked for), "failed" or
"not measured" (its benchmark ran without producing it).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}

# The app `fraudlens serve` runs (production defaults of Settings.serve).
_APP = "serving/apps/ray-serve"


@dataclass(frozen=True)
class Target:
    """One figure of issue #12 and the figure of the benchmark that measures it.

    Attributes:
        path: the issue's row (what is measured).
        figure: what the compared figure is, in words.
        benchmark: the name ``benchmarks.run`` knows the benchmark by.
        keys: key path of the figure; with two, the figure is their ratio.
        op: ``"<="`` or ``">="``; empty when the figure is only printed.
        limit: the target value (None when only printed).
        unit: printed after the figures.
        scale: (key path, value) the benchmark's size must have for the
            figure to count, e.g. 1,000,000 rows.
    """

    path: str
    figure: str
    benchmark: str
    keys: tuple[str, ...]
    op: str = ""
    limit: float | None = None
    unit: str = ""
    scale: tuple[str, float] | None = None


TARGETS: tuple[Target, ...] = (
    Target("/v1/score c=16", "p99, wrk, Ray Serve app", "serving",
           (f"{_APP}/rows/concurrency=16/p99_ms",), "<=", 25, "ms"),
    Target("/v1/score c=16", "req/s, Ray Serve / bare uvicorn app", "serving",
           (f"{_APP}/rows/concurrency=16/rps", "serving/apps/bare/rows/concurrency=16/rps"),
           ">=", 0.8, "x"),
    Target("/v1/score c=16", "degraded answers, Ray Serve app", "serving",
           (f"{_APP}/rows/concurrency=16/degraded",), "<=", 0),
    Target("/v1/score c=1", "server-side p50 (the API's latency_ms)", "serving",
           (f"{_APP}/server_side/server_p50_ms",), "<=", 3, "ms"),
    Target("/v1/score/batch", "tx/s, calls of 1,000 tx, Ray Serve app", "serving",
           (f"{_APP}/batch/tx_per_s",), ">=", 20_000, "tx/s",
           (f"{_APP}/batch/batch", 1000)),
    Target("stream scorer", "tx/s, Kafka to Kafka", "serving",
           ("serving/stream/tx_per_s",), ">=", 20_000, "tx/s"),
    Target("online read, Redis", "p99 of one batched read", "inference",
           ("inference/online_read/batched_p99_ms",), "<=", 5, "ms",
           ("inference/online_read/rows", 100)),
    Target("replica start", "to first non-degraded answer", "serving",
           (f"{_APP}/start_to_full_answer_s",), unit="s"),
    Target("replica start", "degraded answers once ready", "serving",
           (f"{_APP}/start_degraded",), "<=", 0),
    Target("get_historical_features", "seconds, DuckDB", "offline",
           ("offline/retrieval_seconds",), "<=", 120, "s", ("offline/rows", 1_000_000)),
    Target("stream feature job", "events/s, Redis online store", "features",
           ("features/stream_redis/events_per_second",), ">=", 25_000, "events/s"),
)  # fmt: skip


def lookup(figures: Any, key: str) -> Any:
    """The value at ``key`` (see the module docstring), or None when it is missing."""
    node = figures
    for part in key.split("/"):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and "=" in part:
            field, _, wanted = part.partition("=")
            node = next(
                (row for row in node if isinstance(row, Mapping) and str(row.get(field)) == wanted),
                None,
            )
        else:
            return None
        if node is None:
            return None
    return node


def measured(target: Target, figures: Mapping[str, Any]) -> float | None:
    """The target's figure from ``figures``, a ratio for two keys; None when missing."""
    values = [lookup(figures, key) for key in target.keys]
    if any(not isinstance(v, int | float) or isinstance(v, bool) for v in values):
        return None
    if len(values) == 2:
        return values[0] / values[1] if values[1] else None
    return float(values[0])


def status(
    target: Target, figures: Mapping[str, Any], failed: Collection[str] = ()
) -> tuple[float | None, str]:
    """The measured figure and whether it meets the target (see the module docstring)."""
    command = f"python -m benchmarks.run {target.benchmark}"
    if target.benchmark in failed:
        return None, f"failed ({command})"
    if target.benchmark not in figures:
        return None, f"not run ({command})"
    value = measured(target, figures)
    if value is None:
        return None, f"not measured (bench_{target.benchmark} did not produce it)"
    if target.scale is not None:
        size = lookup(figures, target.scale[0])
        if size != target.scale[1]:
            return value, f"not measured (size {size}, the target is for {target.scale[1]:,.0f})"
    if not target.op or target.limit is None:
        return value, "printed"
    return value, "met" if _OPS[target.op](value, target.limit) else "NOT met"


def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) >= 1:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"


def target_rows(
    figures: Mapping[str, Any], failed: Collection[str] = ()
) -> list[tuple[str, str, str, str, str]]:
    """One row per target: path, figure, measured, target, status."""
    rows = []
    for target in TARGETS:
        value, verdict = status(target, figures, failed)
        shown = "-" if value is None else f"{_number(value)} {target.unit}".strip()
        goal = "printed"
        if target.op and target.limit is not None:
            goal = f"{target.op} {_number(target.limit)} {target.unit}".strip()
        rows.append((target.path, target.figure, shown, goal, verdict))
    return rows


def format_targets(figures: Mapping[str, Any], failed: Collection[str] = ()) -> str:
    """The targets table as plain text, columns aligned."""
    header = ("path", "figure", "measured", "target", "status")
    rows = [header, *target_rows(figures, failed)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def print_targets(figures: Mapping[str, Any], failed: Collection[str] = ()) -> None:
    """Print issue #12's targets beside this run's figures."""
    print("\nissue #12, figures to reach (benchmarks/targets.py):")
    print(format_targets(figures, failed), flush=True)
