"""Run every benchmark in turn and print its figures: ``make bench``.

``python -m benchmarks.run simulator kafka`` runs only those; each benchmark
also runs alone (``python -m benchmarks.bench_kafka --help``).
"""

from __future__ import annotations

import importlib
import json
import sys

BENCHMARKS = (
    "simulator", "kafka", "features", "compute", "checkpoint", "training", "inference", "serving",
    "drift", "records", "offline",
)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Run the named benchmarks (all by default) and print a JSON summary."""
    names = argv if argv else list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}"
        )
    figures = {}
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        figures[name] = module.main([])
    print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
