"""Drift check time, both backends: tabular tests, MMD on a subsample, online detector.

Run: ``.venv/bin/python -m benchmarks.bench_drift [--rows 10000]``. The window
has every registry feature plus the score (synthetic values shaped like the
real ones); the reference is ``training.reference_rows`` rows, as training
saves it. "fit" is the first call (detectors built, alibi's online threshold
calibrated), "check" a later call on a fresh window of the same size.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from drift.detectors import build_detector
from drift.synthetic import synthetic_rows
from fraudlens.settings import DriftSettings, TrainingSettings


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Time each detector on a ``--rows`` window for both backends; print and return figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000, help="window rows")
    parser.add_argument(
        "--reference-rows", type=int, default=TrainingSettings().reference_rows, help="reference"
    )
    parser.add_argument("--backends", nargs="+", default=["scipy", "alibi"], help="backends")
    args = parser.parse_args(argv)

    reference = synthetic_rows(args.reference_rows, seed=1)
    windows = [synthetic_rows(args.rows, seed=s, shift={"txn_amount": 0.2}) for s in (2, 3)]
    columns = reference.shape[1]
    figures: dict[str, dict[str, float]] = {}
    for backend in args.backends:
        cfg = DriftSettings(backend=backend)
        detector = build_detector(reference, cfg)
        fit_tab, first = _timed(lambda d=detector: d.tabular(windows[0]))
        tab, _ = _timed(lambda d=detector: d.tabular(windows[1]))
        mmd, mmd_res = _timed(lambda d=detector: d.mmd(windows[1]))
        scores = windows[1]["score"].to_numpy()
        fit_online, _ = _timed(lambda d=detector, s=scores: d.online(s[:1]))
        online, online_res = _timed(lambda d=detector, s=scores: d.online(s))
        figures[backend] = {
            "window_rows": args.rows,
            "columns": columns,
            "tabular_fit_s": round(fit_tab, 3),
            "tabular_check_s": round(tab, 3),
            "moved": len(first.moved),
            "mmd_subsample": cfg.mmd_subsample,
            "mmd_permutations": cfg.mmd_permutations,
            "mmd_s": round(mmd, 3),
            "mmd_p_value": round(mmd_res.p_value, 4),
            "online_calibration_s": round(fit_online, 3),
            "online_replay_s": round(online, 3),
            "online_scores_replayed": online_res.n,
        }
        print(
            f"{backend:>5}: tabular {args.rows} rows x {columns} columns: {tab:.3f}s "
            f"(first call {fit_tab:.3f}s); MMD {cfg.mmd_subsample}+{cfg.mmd_subsample} rows, "
            f"{cfg.mmd_permutations} permutations: {mmd:.3f}s; online: calibration "
            f"{fit_online:.2f}s, replay {online_res.n} scores {online:.3f}s",
            flush=True,
        )
    return figures


if __name__ == "__main__":
    main()
