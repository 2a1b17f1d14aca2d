"""``fraudlens backtest``: rolling-origin evaluation over N time folds.

Each fold stands at a cut-off and trains the way ``fraudlens train`` would
have trained then, with the same functions (``training.fit``), then scores the
next block of days::

    start ... valid_start ... history_end | gap | cutoff ... end
    |  train    | validation  |                 | test block |

* the labelled history is ``train_days`` long; its last
  ``training.validation_days`` choose the ensemble (early stopping, members,
  blend, calibration, thresholds);
* only labels that had arrived by the cut-off are known (``label_time <=
  cutoff``); a fraud labelled later is dropped or taught as legit
  (``training.late_labels``, see ``training.split.known_labels``);
* the gap (``gap_days``, default the label delay) holds transactions too
  young for their labels; it is not used;
* the test block is judged after the fact, with every label.

Folds roll by ``test_days``: their test blocks follow each other and the last
one ends at ``end`` (default: the day after the newest transaction).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.errors import ConfigError, DataError
from fraudlens.history import find_history
from fraudlens.model import Thresholds
from fraudlens.settings import BacktestSettings, Settings, TrainingSettings
from training.card_precision import card_precision_top_k, known_compromised
from training.dataset import TrainingData, load_training_data
from training.evaluate import fraud_metrics, scenario_table
from training.fit import fit_ensemble
from training.split import as_utc, known_labels, with_data_label_delay

logger = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
HEADLINE = (
    "roc_auc",
    "average_precision",
    "card_precision_at_k",
    "fraud_amount",
    "fraud_amount_caught",
    "money_caught_share",
    "alerts",
    "precision_at_review",
    "recall_at_review",
    "net_savings",
)


@dataclass(frozen=True)
class Fold:
    """One fold's boundaries (UTC; each period is ``[from, to)``)."""

    number: int
    start: pd.Timestamp
    valid_start: pd.Timestamp
    history_end: pd.Timestamp
    cutoff: pd.Timestamp
    end: pd.Timestamp

    def as_dict(self) -> dict[str, str]:
        """ISO strings, for the report."""
        return {
            "start": self.start.isoformat(),
            "valid_start": self.valid_start.isoformat(),
            "history_end": self.history_end.isoformat(),
            "cutoff": self.cutoff.isoformat(),
            "end": self.end.isoformat(),
        }


@dataclass(frozen=True)
class FoldFrames:
    """A fold's rows: train and validation with the labels known at the cut-off, test."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    gap_rows: int
    late_label_rows: int


def check_days(cfg: BacktestSettings, validation_days: int) -> None:
    """Refuse a fold history with no room for training days before validation.

    Raises:
        ConfigError: names the flag and both settings.
    """
    if cfg.train_days <= validation_days:
        raise ConfigError(
            f"--train-days (backtest.train_days) is {cfg.train_days}: it must exceed "
            f"training.validation_days ({validation_days}), the fold's validation days"
        )


def plan_folds(
    end: datetime | date | str | pd.Timestamp,
    cfg: BacktestSettings,
    validation_days: int,
    gap_days: int,
) -> list[Fold]:
    """Fold boundaries, oldest first, the last test block ending at ``end``.

    Raises:
        ConfigError: the labelled history leaves no training days.
    """
    check_days(cfg, validation_days)
    hi = as_utc(end)
    folds = []
    for number in range(1, cfg.folds + 1):
        cutoff = hi - (cfg.folds - number + 1) * cfg.test_days * DAY
        history_end = cutoff - gap_days * DAY
        start = history_end - cfg.train_days * DAY
        valid_start = history_end - validation_days * DAY
        folds.append(
            Fold(number, start, valid_start, history_end, cutoff, cutoff + cfg.test_days * DAY)
        )
    return folds


def check_span(folds: list[Fold], first: pd.Timestamp, last: pd.Timestamp) -> None:
    """Refuse folds that reach before the data or end after it.

    Raises:
        DataError: the data is too short for the folds; names the flags to change.
    """
    if folds[0].start < first.floor("D"):
        need = (folds[-1].end - folds[0].start).days
        have = (last.floor("D") + DAY - first.floor("D")).days
        raise DataError(
            f"the data covers {first.date()}..{last.date()} ({have} days) but {len(folds)} "
            f"fold(s) need {need} days from {folds[0].start.date()}: lower --folds, "
            "--train-days, --test-days or --gap-days"
        )
    if folds[-1].cutoff > last:
        raise DataError(
            f"--to {folds[-1].end.date()}: the last fold's test block starts after the newest "
            f"transaction ({last})"
        )


def fold_split(frame: pd.DataFrame, fold: Fold, cfg: TrainingSettings) -> FoldFrames:
    """The fold's train, validation and test rows (see the module docstring).

    Raises:
        DataError: a period of the fold is empty or has no fraud.
    """
    t = frame["event_time"]
    seen = frame[(t >= fold.start) & (t < fold.history_end)]
    seen, late = known_labels(seen, fold.cutoff, cfg)
    train = seen[seen["event_time"] < fold.valid_start]
    valid = seen[seen["event_time"] >= fold.valid_start]
    gap = int(((t >= fold.history_end) & (t < fold.cutoff)).sum())
    test = frame[(t >= fold.cutoff) & (t < fold.end)]
    for name, part in (("train", train), ("validation", valid), ("test", test)):
        if part.empty or not part["is_fraud"].any():
            what = "rows" if part.empty else "known fraud"
            raise DataError(
                f"fold {fold.number}: the {name} period has no {what} "
                f"(cut-off {fold.cutoff.date()}); try more --train-days or fewer --folds"
            )
    return FoldFrames(train.copy(), valid.copy(), test.copy(), gap, late)


def fold_metrics(
    test: pd.DataFrame,
    scores: np.ndarray,
    thresholds: Thresholds,
    cfg: TrainingSettings,
    known: pd.Series | None = None,
) -> dict[str, Any]:
    """Headline metrics of one test block, its card precision per day, its scenarios.

    ``card_precision_at_k`` follows ``training.card_precision`` (detected cards
    removed from later days, and cards in ``known`` from the day after their
    fraud label arrived); money caught is the fraud amount among the rows at or
    above the review threshold. The other figures keep every row: the product
    scores known cards too.
    """
    base = fraud_metrics(test, scores, thresholds, cfg)
    cards = card_precision_top_k(test, scores, cfg.cards_per_day, known=known)
    metrics = {key: base[key] for key in HEADLINE if key in base}
    metrics["card_precision_at_k"] = cards.mean
    metrics["money_caught_share"] = (
        base["fraud_amount_caught"] / base["fraud_amount"] if base["fraud_amount"] else math.nan
    )
    metrics["rows"], metrics["frauds"] = base["rows"], base["frauds"]
    scenarios = scenario_table(test, scores, thresholds, cfg).drop(columns="card_precision_at_k")
    return {
        "metrics": metrics,
        "card_precision_per_day": [
            {"day": str(day.date()), "precision": p, "detected_cards": n}
            for day, p, n in zip(cards.days, cards.per_day, cards.detected, strict=True)
        ],
        "scenarios": scenarios.to_dict(orient="records"),
    }


def overall(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation over folds; amounts summed; scenarios pooled."""
    table = pd.DataFrame([f["metrics"] for f in folds])
    summary: dict[str, Any] = {
        "mean": table.mean(numeric_only=True).to_dict(),
        "std": table.std(numeric_only=True, ddof=0).to_dict(),
    }
    amount, caught = table["fraud_amount"].sum(), table["fraud_amount_caught"].sum()
    summary["fraud_amount"] = float(amount)
    summary["fraud_amount_caught"] = float(caught)
    summary["money_caught_share"] = float(caught / amount) if amount else math.nan
    rows = pd.DataFrame([row for f in folds for row in f["scenarios"]])
    if rows.empty:
        summary["scenarios"] = []
        return summary
    rows["caught_frauds"] = rows["recall_at_review"] * rows["frauds"]
    pooled = rows.groupby("scenario", sort=True).agg(
        frauds=("frauds", "sum"),
        average_precision=("average_precision", "mean"),
        roc_auc=("roc_auc", "mean"),
        caught_frauds=("caught_frauds", "sum"),
        fraud_amount=("fraud_amount", "sum"),
        fraud_amount_caught=("fraud_amount_caught", "sum"),
    )
    pooled["recall_at_review"] = pooled["caught_frauds"] / pooled["frauds"]
    summary["scenarios"] = pooled.drop(columns="caught_frauds").reset_index().to_dict("records")
    return summary


@dataclass(frozen=True)
class Backtest:
    """A finished backtest: its plan, each fold's figures and the overall ones."""

    plan: dict[str, Any]
    folds: list[dict[str, Any]]
    overall: dict[str, Any]
    # Each test row's score: ``transaction_id``, ``fold``, ``score`` (own metrics, other protocols).
    scores: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes null)."""
        out: dict[str, Any] = _json_ready(
            {"plan": self.plan, "folds": self.folds, "overall": self.overall}
        )
        return out


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def data_span(settings: Settings, folder: Path | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last transaction time of the history folder."""
    folder = folder or find_history(settings.data_dir, settings.training.history_dir).folder
    times = pd.read_parquet(folder / "transactions.parquet", columns=["event_time"])["event_time"]
    if times.empty:
        raise DataError(f"{folder / 'transactions.parquet'} has no transactions")
    return as_utc(times.min()), as_utc(times.max())


def run_backtest(
    settings: Settings,
    end: datetime | date | str | None = None,
    *,
    data: TrainingData | None = None,
) -> Backtest:
    """Train and score every fold; nothing is registered in MLflow.

    Args:
        settings: FraudLens settings (``backtest`` and ``training`` groups).
        end: end of the last test block, exclusive (default: the day after the
            newest transaction).
        data: labelled rows with features (tests); default: the history in
            DATA_DIR with ``load_training_data``.

    Raises:
        ConfigError: the fold settings contradict each other.
        DataError: the data is too short or a fold has no fraud.
        ModelError: a Ray Train run failed.
    """
    bcfg, cfg = settings.backtest, settings.training
    check_days(bcfg, cfg.validation_days)
    folder = None
    if data is None:
        history = find_history(settings.data_dir, cfg.history_dir)
        cfg = with_data_label_delay(cfg, history.label_delay_days)
        folder = history.folder
        first, last = data_span(settings, folder)
    else:
        first, last = data.frame["event_time"].min(), data.frame["event_time"].max()
    gap = bcfg.gap_days if bcfg.gap_days is not None else cfg.label_delay_days
    hi = as_utc(end) if end is not None else last.floor("D") + DAY
    folds = plan_folds(hi, bcfg, cfg.validation_days, gap)
    check_span(folds, first, last)
    if data is None:
        logger.info("backtest: features for %s..%s", folds[0].start.date(), hi.date())
        data = load_training_data(settings, folds[0].start, hi, cfg.feature_service, folder=folder)
    results, scored = [], []
    storage = settings.data_dir / "ray_results"
    known = known_compromised(data.frame)
    for fold in folds:
        t0 = time.perf_counter()
        frames = fold_split(data.frame, fold, cfg)
        logger.info(
            "backtest fold %d/%d: cut-off %s, train %d, validation %d, test %d rows",
            fold.number,
            len(folds),
            fold.cutoff.date(),
            len(frames.train),
            len(frames.valid),
            len(frames.test),
        )
        fitted = fit_ensemble(
            frames.train,
            frames.valid,
            data.feature_names,
            data.feature_service,
            cfg,
            storage,
            data.categorical,
        )
        scores = fitted.model.predict(frames.test)
        result = {
            "fold": fold.number,
            **fold.as_dict(),
            "train_rows": len(frames.train),
            "validation_rows": len(frames.valid),
            "gap_rows": frames.gap_rows,
            "late_label_frauds": frames.late_label_rows,
            "review_threshold": fitted.model.thresholds.review,
            **fold_metrics(frames.test, scores, fitted.model.thresholds, cfg, known),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        results.append(result)
        ids = frames.test["transaction_id"].to_numpy()
        scored.append(pd.DataFrame({"transaction_id": ids, "fold": fold.number, "score": scores}))
    plan = {
        "folds": bcfg.folds,
        "train_days": bcfg.train_days,
        "validation_days": cfg.validation_days,
        "gap_days": gap,
        "test_days": bcfg.test_days,
        "cards_per_day": cfg.cards_per_day,
        "late_labels": cfg.late_labels,
        "feature_service": data.feature_service,
        "features": len(data.feature_names),
        "end": hi.isoformat(),
    }
    return Backtest(plan, results, overall(results), pd.concat(scored, ignore_index=True))
