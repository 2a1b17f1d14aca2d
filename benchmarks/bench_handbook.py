"""FraudLens on the Fraud Detection Handbook's simulated transactions (issue #15).

Run: ``.venv/bin/python -m benchmarks.bench_handbook [--full] [--folds 4]``.

The path a new user takes: generate the Handbook's dataset
(``benchmarks.handbook``), write it as Parquet with an import mapping, then
``fraudlens import`` and ``fraudlens backtest`` as commands (subprocesses
with ``FRAUDLENS_DATA_DIR`` set to the work folder and
``training.features_source = memory``). The fold shape is the Handbook's:
labels known 7 days after the transaction (the mapping's
``label_delay_days``, so a 7-day gap) and 7-day test blocks; the training
history per fold is FraudLens's own (``backtest.train_days``). Nothing is
tuned to this data: the settings are FraudLens's defaults otherwise.

Beside it, on the same imported rows and the same test blocks, the Handbook's
baseline (``benchmarks.handbook_baseline``: 15 handcrafted features,
XGBoost depth 3, the 7 days before the gap) is scored with the same metric
functions (``training.backtest.fold_metrics``). Printed: AP, ROC-AUC and card
precision@100 per fold and their mean, and AP per fraud scenario. Unlike the
Handbook, the test blocks keep the cards already known as compromised: they
are left out of card precision only (from the day after their fraud label
arrived, or after the model found them), for both. Card precision is printed
twice: FraudLens's (``card_precision_at_k``: every card whose label has
arrived is left out) and the Handbook's own (``card_precision_handbook``:
only cards with a fraud since the start of its 7-day training week are left
out, as its ``get_train_test_set`` does; FraudLens's from the backtest's
``scores.parquet``), the figure published results and issue #15 quote.

Default size: 2,000 customers, 4,000 terminals, 120 days (about 460k rows);
``--full`` is the Handbook's 5,000 / 10,000 / 183 days (about 1.75M rows).
The small size keeps about as many terminal frauds a day on fewer
transactions, so its fraud share is higher (about 2 % against 0.8 %).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.handbook import SCENARIOS, HandbookConfig, generate
from benchmarks.handbook_baseline import DELAY_DAYS, features, fit_and_score
from fraudlens.model import Thresholds
from fraudlens.settings import Settings
from training.backtest import fold_metrics, overall
from training.card_precision import card_precision_top_k, known_compromised

METRICS = ("average_precision", "roc_auc", "card_precision_at_k", "card_precision_handbook")
HANDBOOK_TRAIN_DAYS = 7  # the Handbook's training week: where its known cards start
MAPPING = f"""\
columns:
  transaction_id: TRANSACTION_ID
  event_time: TX_DATETIME
  card_reference: CUSTOMER_ID
  customer_id: CUSTOMER_ID
  terminal_id: TERMINAL_ID
  amount: TX_AMOUNT
  is_fraud: TX_FRAUD
  fraud_scenario: SCENARIO
defaults:              # the Handbook's data has no merchant, category or geography
  merchant_id: M0
  mcc: "5999"
  currency: EUR
  channel: card_present
  entry_mode: chip
  country: FR
timezone: UTC
label_delay_days: {DELAY_DAYS}    # the Handbook's delay period
"""
CLI = "import sys; from fraudlens.cli import app; sys.argv[0] = 'fraudlens'; app()"


def write_source(cfg: HandbookConfig, folder: Path) -> tuple[Path, Path, int]:
    """Generate the dataset; write it as Parquet and the mapping beside it."""
    data = generate(cfg)
    names = data["TX_FRAUD_SCENARIO"].map(SCENARIOS)
    data["SCENARIO"] = names.where(data["TX_FRAUD"] == 1, None)
    folder.mkdir(parents=True, exist_ok=True)
    source, mapping = folder / "handbook.parquet", folder / "mapping.yaml"
    data.to_parquet(source, index=False)
    mapping.write_text(MAPPING)
    return source, mapping, len(data)


def fraudlens(args: list[str], data_dir: Path) -> float:
    """Run one ``fraudlens`` command in a subprocess; its wall time in seconds."""
    env = os.environ | {
        "FRAUDLENS_DATA_DIR": str(data_dir),
        "FRAUDLENS_TRAINING__FEATURES_SOURCE": "memory",
    }
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", CLI, *args], env=env, check=True)
    return time.perf_counter() - started


def handbook_card_precision(
    frame: pd.DataFrame, test: pd.DataFrame, scores: np.ndarray, cutoff: pd.Timestamp, k: int
) -> float:
    """Card precision@k of a test block by the Handbook's own code, not FraudLens's.

    Its ``get_train_test_set`` drops from each test day the cards with a fraud
    from its training week's start (``cutoff`` - delay - 7 days) up to the day
    before the delay period ends (labels known after ``DELAY_DAYS``); cards
    defrauded earlier stay in. Then ``card_precision_top_k`` leaves out the
    cards found on earlier days of the block. FraudLens's own figure instead
    leaves out every card whose fraud label has arrived, however long ago.
    """
    delay = pd.Timedelta(days=DELAY_DAYS)
    start = cutoff - delay - pd.Timedelta(days=HANDBOOK_TRAIN_DAYS)
    fraud = frame.loc[frame["is_fraud"].astype(bool) & (frame["event_time"] >= start)]
    fraud_day = fraud["event_time"].dt.floor("D")
    test_day = test["event_time"].dt.floor("D")
    keep = np.ones(len(test), dtype=bool)
    for day in test_day.unique():
        known = fraud.loc[fraud_day <= day - delay - pd.Timedelta(days=1), "card_token"]
        keep &= ~((test_day == day) & test["card_token"].isin(known)).to_numpy()
    return card_precision_top_k(test[keep], np.asarray(scores)[keep], k).mean


def baseline(
    frame: pd.DataFrame, folds: list[dict[str, Any]], settings: Settings
) -> dict[str, Any]:
    """The Handbook baseline scored on the backtest's test blocks."""
    feats = features(frame)
    t = frame["event_time"]
    # Only ranking figures are reported for it; the thresholds are placeholders.
    thresholds = Thresholds(review=0.5, decline=0.9)
    known = known_compromised(frame)
    k = settings.training.cards_per_day
    results = []
    for fold in folds:
        cutoff, end = pd.Timestamp(fold["cutoff"]), pd.Timestamp(fold["end"])
        test = frame[(t >= cutoff) & (t < end)]
        scores = fit_and_score(frame, feats, pd.Timestamp(fold["history_end"]), cutoff, test.index)
        result = fold_metrics(test, scores, thresholds, settings.training, known)
        result["metrics"]["card_precision_handbook"] = handbook_card_precision(
            frame, test, scores, cutoff, k
        )
        results.append(result)
    return {"folds": results, "overall": overall(results)}


def add_handbook_precision(
    backtest: dict[str, Any], frame: pd.DataFrame, scores: pd.DataFrame, k: int
) -> None:
    """FraudLens's Handbook-protocol card precision per fold (from ``scores.parquet``) and mean."""
    by_id = frame.set_index("transaction_id")
    figures = []
    for fold in backtest["folds"]:
        mine = scores[scores["fold"] == fold["fold"]]
        test = by_id.loc[mine["transaction_id"]].reset_index()
        cutoff = pd.Timestamp(fold["cutoff"])
        figure = handbook_card_precision(frame, test, mine["score"].to_numpy(), cutoff, k)
        fold["metrics"]["card_precision_handbook"] = figure
        figures.append(figure)
    backtest["overall"]["mean"]["card_precision_handbook"] = float(np.mean(figures))


def _row(name: str, values: dict[str, Any]) -> str:
    return f"{name:<24}" + "".join(f"{values[key]:>25.3f}" for key in METRICS)


def report(backtest: dict[str, Any], base: dict[str, Any]) -> str:
    """Side-by-side table per fold and mean, then AP per scenario."""
    lines = [f"{'':<24}" + "".join(f"{key:>25}" for key in METRICS)]
    for ours, theirs in zip(backtest["folds"], base["folds"], strict=True):
        day = str(ours["cutoff"])[:10]
        lines.append(_row(f"fold {ours['fold']} {day} FraudLens", ours["metrics"]))
        lines.append(_row(f"fold {ours['fold']} baseline", theirs["metrics"]))
    lines.append(_row("mean FraudLens", backtest["overall"]["mean"]))
    lines.append(_row("mean baseline", base["overall"]["mean"]))
    lines.append("")
    lines.append(
        f"{'scenario AP (mean over folds)':<32}{'frauds':>8}{'FraudLens':>12}{'baseline':>12}"
    )
    theirs = {row["scenario"]: row for row in base["overall"]["scenarios"]}
    for row in backtest["overall"]["scenarios"]:
        other = theirs.get(row["scenario"], {}).get("average_precision", np.nan)
        lines.append(
            f"{row['scenario']:<32}{row['frauds']:>8}"
            f"{row['average_precision'] or np.nan:>12.3f}{other:>12.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Generate, import, backtest and fit the baseline; print and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="the Handbook's full size")
    parser.add_argument("--customers", type=int, default=2_000, help="customers (small size)")
    parser.add_argument("--terminals", type=int, default=4_000, help="terminals (small size)")
    parser.add_argument("--days", type=int, default=120, help="days (small size)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--folds", type=int, default=4, help="backtest folds")
    parser.add_argument("--out", type=Path, default=None, help="work folder")
    args = parser.parse_args(argv)
    settings = Settings()
    cfg = (
        HandbookConfig(seed=args.seed)
        if args.full
        else HandbookConfig(args.customers, args.terminals, args.days, seed=args.seed)
    )
    work = args.out or settings.data_dir / "bench" / f"handbook-{cfg.customers}x{cfg.days}d"
    data_dir = work / "data"
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    source, mapping, rows = write_source(cfg, work)
    seconds["generate"] = time.perf_counter() - started
    seconds["import"] = fraudlens(["import", str(source), "--mapping", str(mapping)], data_dir)
    out = work / "backtest"
    seconds["backtest"] = fraudlens(
        ["backtest", "--folds", str(args.folds), "--test-days", "7", "--gap-days", str(DELAY_DAYS),
         "--out", str(out)],
        data_dir,
    )  # fmt: skip
    backtest = json.loads((out / "backtest.json").read_text())
    frame = pd.read_parquet(data_dir / "import" / "transactions.parquet")
    k = settings.training.cards_per_day
    add_handbook_precision(backtest, frame, pd.read_parquet(out / "scores.parquet"), k)
    started = time.perf_counter()
    base = baseline(frame, backtest["folds"], settings)
    seconds["baseline"] = time.perf_counter() - started
    print(f"Handbook data: {cfg}, {rows} transactions; fold shape {backtest['plan']}")
    print(report(backtest, base))
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    return {
        "rows": rows,
        "fraudlens": backtest["overall"],
        "baseline": base["overall"],
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }


if __name__ == "__main__":
    main()
