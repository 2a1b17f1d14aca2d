"""A backtest as files (``backtest.json``, ``backtest.png``, ``scores.parquet``) and as tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from training import plots
from training.backtest import Backtest
from training.evaluate import _frame_markdown

FOLD_COLUMNS = (
    "roc_auc",
    "average_precision",
    "card_precision_at_k",
    "money_caught_share",
    "fraud_amount_caught",
    "fraud_amount",
    "frauds",
)


def write_report(backtest: Backtest, folder: Path) -> tuple[Path, Path, Path]:
    """Write ``backtest.json``, ``backtest.png`` and ``scores.parquet`` into ``folder``.

    ``scores.parquet`` holds each test row's ``transaction_id``, ``fold`` and
    ``score``: join it to the history to compute other metrics or protocols.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "backtest.json"
    path.write_text(json.dumps(backtest.as_dict(), indent=2, default=str) + "\n")
    png = plots.backtest_folds(backtest.folds, folder / "backtest.png")
    scores = folder / "scores.parquet"
    backtest.scores.to_parquet(scores, index=False)
    return path, png, scores


def markdown(backtest: Backtest) -> str:
    """One row per fold plus mean and std, then the scenarios over all folds."""
    rows = [
        {"fold": str(f["fold"]), "cut-off": str(f["cutoff"])[:10]}
        | {key: f["metrics"][key] for key in FOLD_COLUMNS}
        for f in backtest.folds
    ]
    for stat in ("mean", "std"):
        values = backtest.overall[stat]
        rows.append({"fold": stat, "cut-off": ""} | {key: values[key] for key in FOLD_COLUMNS})
    folds = _frame_markdown(_whole(pd.DataFrame(rows)))
    k = backtest.plan["cards_per_day"]
    money = (
        f"fraud amount caught over all folds: {backtest.overall['fraud_amount_caught']:.2f} "
        f"of {backtest.overall['fraud_amount']:.2f} ({backtest.overall['money_caught_share']:.1%})"
    )
    scenarios = pd.DataFrame(backtest.overall["scenarios"])
    table = (
        _frame_markdown(_whole(scenarios))
        if not scenarios.empty
        else "(no fraud in the test blocks)"
    )
    return (
        f"card_precision_at_k: k = {k} cards a day; cards detected on earlier days, or whose fraud "
        "label had arrived, left out\n\n"
        f"{folds}\n\n{money}\n\nper scenario (AP and ROC-AUC: mean over folds)\n\n{table}"
    )


def _whole(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts and amounts as whole numbers: 40800, not 4.08e+04."""
    out = frame.copy()
    for col in ("frauds", "fraud_amount", "fraud_amount_caught"):
        if col in out:
            out[col] = [str(round(v)) if pd.notna(v) else "nan" for v in out[col]]
    return out
