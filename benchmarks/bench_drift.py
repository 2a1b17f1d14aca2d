"""Drift check time, both backends (tabular tests, MMD on a subsample, online
detector), and the end-to-end time from drift onset to a new champion.

Run: ``.venv/bin/python -m benchmarks.bench_drift [--rows 10000] [--no-scenario]``. The window
has every registry feature plus the score (synthetic values shaped like the
real ones); the reference is ``training.reference_rows`` rows, as training
saves it. "fit" is the first call (detectors built, alibi's online threshold
calibrated), "check" a later call on a fresh window of the same size. The
scenario (``drift.scenario``, a few minutes) reports onset -> new champion in
simulated days and in wall-clock seconds (training included).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drift.detectors import build_detector
from drift.synthetic import synthetic_rows
from fraudlens.settings import DriftSettings, Settings, TrainingSettings


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
    parser.add_argument(
        "--no-scenario", action="store_true", help="skip the onset -> new champion scenario"
    )
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
    if not args.no_scenario:
        figures["scenario"] = scenario_figures()
    return figures


def scenario_figures() -> dict[str, float]:
    """Run the drift scenario once in a temporary folder; onset -> new champion."""
    from drift.scenario import ScenarioConfig, run_scenario, scenario_settings

    with tempfile.TemporaryDirectory(prefix="fraudlens-bench-drift-") as tmp:
        result = run_scenario(scenario_settings(Settings(data_dir=Path(tmp))), ScenarioConfig())
    days = result.onset_to_champion_days
    print(result.summary(), flush=True)
    print(
        f"scenario: drift flagged {_after(result.drift_day, result.onset_day)} days after onset; "
        f"onset -> new champion: {days} simulated days, "
        f"{result.onset_to_champion_seconds:.1f}s wall-clock (whole run {result.wall_seconds:.1f}s)",
        flush=True,
    )
    return {
        "drift_days_after_onset": float(_after(result.drift_day, result.onset_day)),
        "onset_to_champion_days": float("nan") if days is None else float(days),
        "onset_to_champion_s": round(result.onset_to_champion_seconds, 1),
        "scenario_wall_s": round(result.wall_seconds, 1),
        "retrainings": float(len(result.retrain_days)),
    }


def _after(day: int | None, onset: int) -> float:
    return float("nan") if day is None else float(day - onset)


if __name__ == "__main__":
    main()
