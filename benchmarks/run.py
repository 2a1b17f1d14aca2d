"""Run every benchmark in turn and print its figures: ``make bench``.

``python -m benchmarks.run simulator kafka`` runs only those; each benchmark
also runs alone (``python -m benchmarks.bench_kafka --help``). The run ends
with issue #12's targets beside the figures (``benchmarks.targets``); a
benchmark that fails is reported there and the others still run.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from typing import Any

from benchmarks.targets import print_targets

BENCHMARKS = (
    "simulator", "kafka", "features", "compute", "checkpoint", "training", "inference",
    "api_layer", "serving", "drift", "records", "offline", "handbook",
)  # fmt: skip
# The Handbook backtest (#15's external-style benchmark) takes 5-20 minutes:
# run it by name, ``python -m benchmarks.run handbook``.
OPT_IN = ("handbook",)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    """Run the named benchmarks (all by default), print a JSON summary and the targets."""
    names = argv if argv else [name for name in BENCHMARKS if name not in OPT_IN]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}"
        )
    figures: dict[str, Any] = {}
    failed: list[str] = []
    for name in names:
        print(f"== {name} (load average {_load()}, {os.cpu_count()} cores)", flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        try:
            figures[name] = module.main([])
        except (Exception, SystemExit):  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
    print(f"== done (load average {_load()})", flush=True)
    print(json.dumps(figures, indent=2, default=str))
    print_targets(figures, failed)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
