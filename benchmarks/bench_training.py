"""Training time with Ray Train vs. plain single-process XGBoost, and what the model scores.

Run: ``.venv/bin/python -m benchmarks.bench_training [--rows 1000000] [--pipeline]``.

The data: a simulation sized to ``--rows`` transactions over 60 days, with the
real feature functions applied in memory (cached as Parquet under
``DATA_DIR/bench``), split by time as training does. Both runs fit the same
booster (same parameters, one imbalance candidate, early stopping on
validation) on the same machine: Ray Train with ``training.ray_workers``
workers of ``training.ray_cpus_per_worker`` CPUs, plain XGBoost with as many
threads as Ray's workers run in total (one per worker when they ask for
fractional CPUs). ``--pipeline`` also runs the whole training
pipeline (both members, ensemble, MLflow) and prints its test metrics per
fraud scenario.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.features import FEATURE_NAMES
from fraudlens.security.tokenize import Tokenizer
from fraudlens.settings import Settings
from fraudlens.simulator import SimulatorConfig, customers_for_rows, simulate
from training.dataset import TrainingData, from_frame
from training.ensemble import choose_thresholds
from training.evaluate import HEADLINE, evaluate
from training.local_features import compute_features
from training.pipeline import train
from training.ray_runtime import ensure_ray, threads_per_worker
from training.split import SplitFrames, split_bounds, time_split
from training.train_xgb import XgbCandidate, pos_weights, train_xgb, train_xgb_local

DAYS = 60
SERVICE = "fraud_model_v1"


def _history(settings: Settings, rows: int | None) -> tuple[TrainingData, float]:
    """Simulated history with features, cached by size; returns it and the feature time.

    ``rows=None`` keeps the simulator settings as they are (the default demo data).
    """
    sim_cfg = SimulatorConfig.from_settings(settings.simulator)
    if rows is not None:
        customers = customers_for_rows(rows, DAYS)
        per_customer = settings.simulator.terminals / settings.simulator.customers
        sim_cfg = SimulatorConfig.from_settings(
            settings.simulator,
            customers=customers,
            terminals=max(100, round(customers * per_customer)),
            days=DAYS,
        )
    name = f"{sim_cfg.customers}x{sim_cfg.days}d-{sim_cfg.seed}"
    cache = settings.data_dir / "bench" / f"training-{name}.parquet"
    seconds = 0.0
    if cache.exists():
        frame = pd.read_parquet(cache)
    else:
        sim = simulate(sim_cfg, Tokenizer("bench", {"bench": b"b" * 32}))
        started = time.perf_counter()
        features = compute_features(sim.transactions)
        seconds = time.perf_counter() - started
        frame = pd.concat([sim.transactions, features], axis=1)
        cache.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(cache, index=False)
    start = pd.Timestamp(sim_cfg.start_date, tz="UTC")
    end = start + pd.Timedelta(days=sim_cfg.days)
    return from_frame(frame, list(FEATURE_NAMES), SERVICE, start, end), seconds


def _timed_ray(
    split: SplitFrames, names: list[str], settings: Settings
) -> tuple[float, XgbCandidate]:
    cfg = settings.training.model_copy(update={"imbalance_powers": [0.5]})
    storage = settings.data_dir / "bench" / "ray_results"
    started = time.perf_counter()
    (candidate,) = train_xgb(split.train, split.valid, names, cfg, storage)
    return time.perf_counter() - started, candidate


def _scores(
    split: SplitFrames, names: list[str], booster: Any, settings: Settings
) -> dict[str, float]:
    x_valid = split.valid[names].to_numpy(np.float32)
    x_test = split.test[names].to_numpy(np.float32)
    valid_scores = np.asarray(booster.inplace_predict(x_valid))
    thresholds = choose_thresholds(
        valid_scores, split.valid["is_fraud"].to_numpy(np.int8), settings.training
    )
    test_scores = np.asarray(booster.inplace_predict(x_test))
    metrics = evaluate(split.test, test_scores, thresholds, settings.training).metrics
    return {
        key: round(metrics[key], 4)
        for key in (*HEADLINE, "precision_at_budget", "recall_at_budget")
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time Ray Train vs. plain XGBoost on ``--rows`` transactions; print and return figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="simulated transactions")
    parser.add_argument(
        "--sim-defaults", action="store_true", help="simulate with the settings as they are"
    )
    parser.add_argument("--pipeline", action="store_true", help="also run the full pipeline")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    cfg = settings.training

    data, feature_seconds = _history(settings, None if args.sim_defaults else args.rows)
    split = time_split(data.frame, split_bounds(data.start, data.end, cfg), cfg)
    names = data.feature_names
    ensure_ray(cfg)
    ray_seconds, candidate = _timed_ray(split, names, settings)
    threads = cfg.ray_workers * threads_per_worker(cfg)  # the threads Ray's workers run
    (weight,) = pos_weights(split.train["is_fraud"], [0.5])
    started = time.perf_counter()
    plain = train_xgb_local(split.train, split.valid, names, cfg, weight, threads)
    plain_seconds = time.perf_counter() - started

    figures: dict[str, Any] = {
        "rows": len(data.frame),
        "train_rows": len(split.train),
        "frauds_in_train": int(split.train["is_fraud"].sum()),
        "feature_seconds": round(feature_seconds, 1),
        "ray_workers": cfg.ray_workers,
        "ray_cpus_per_worker": cfg.ray_cpus_per_worker,
        "plain_threads": threads,
        "ray_train_seconds": round(ray_seconds, 1),
        "plain_xgboost_seconds": round(plain_seconds, 1),
        "ratio_ray_over_plain": round(ray_seconds / plain_seconds, 2),
        # Best rounds kept; each run also trained xgb_early_stopping rounds past its best.
        "best_rounds_ray": candidate.booster.num_boosted_rounds(),
        "best_rounds_plain": plain.num_boosted_rounds(),
        "test_ray": _scores(split, names, candidate.booster, settings),
        "test_plain": _scores(split, names, plain, settings),
    }
    if args.pipeline:
        with tempfile.TemporaryDirectory(prefix="fraudlens-bench-") as tmp:
            local = settings.model_copy(update={"data_dir": Path(tmp)})
            result = train(local, data.start, data.end, data=data)
        figures["pipeline_seconds"] = {k: round(v, 1) for k, v in result.seconds.items()}
        figures["pipeline_test"] = {
            k: round(result.test.metrics[k], 4) for k in (*HEADLINE, "net_savings")
        }
        figures["pipeline_scenarios"] = result.test.scenarios.round(4).to_dict("records")
    for key, value in figures.items():
        print(f"{key}: {value}")
    return figures


if __name__ == "__main__":
    main()
