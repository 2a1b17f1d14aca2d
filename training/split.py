"""Time-ordered split with a label-delay gap: train | gap | validation | test.

Never random: a fraud model is used on the future, so it is chosen and judged
on periods after the one it learned from.

    start ........ train_end | gap (label delay) | valid_start .. test_start .. end

The model is "deployed" at ``valid_start``. At that moment only labels that
had arrived (``label_time <= valid_start``) are known, and transactions of the
last ``label_delay_days`` are too young for their labels to have arrived, so
they form the gap and are not used at all.

Late labels (decided here, setting ``training.late_labels``): a training fraud
whose label arrives after the cutoff is **unknown** at training time, not legit;
by default (``"unknown"``) such rows are dropped from the training set rather
than taught as legit. A live retraining job cannot tell them apart from
legit rows (their labels do not exist yet), so ``"legit"`` reproduces that
situation exactly; in a backtest ``"unknown"`` avoids teaching the model that
a fraud pattern is legit because of label latency. Validation and test use every
label in the data: they judge the model after the fact. Choose ``end`` at
least one label delay in the past so their labels have matured.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from fraudlens.errors import DataError
from fraudlens.settings import TrainingSettings

logger = logging.getLogger(__name__)


def as_utc(value: datetime | date | str | pd.Timestamp) -> pd.Timestamp:
    """A UTC timestamp from a date (midnight), a datetime or an ISO string."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def with_data_label_delay(cfg: TrainingSettings, data_delay_days: float | None) -> TrainingSettings:
    """Reconcile the split's label delay with the one the imported data declares.

    An import's mapping says how long its labels take (``label_delay_days``,
    the label time of frauds without one). When the user did not set
    ``training.label_delay_days``, the gap takes that value (rounded up to
    whole days); when they did and the two differ, a warning names both.
    """
    if data_delay_days is None:
        return cfg
    days = math.ceil(data_delay_days)
    if "label_delay_days" not in cfg.model_fields_set:
        logger.info(
            "label delay: %d days, the imported data's label_delay_days (setting "
            "FRAUDLENS_TRAINING__LABEL_DELAY_DAYS overrides it)",
            days,
        )
        return cfg.model_copy(update={"label_delay_days": days})
    if days != cfg.label_delay_days:
        logger.warning(
            "training.label_delay_days is %d (your setting) but the imported data's mapping "
            "says labels take %s days (label_delay_days): training frauds labelled after "
            "the validation start are %s; set one to match the other",
            cfg.label_delay_days,
            data_delay_days,
            "dropped" if cfg.late_labels == "unknown" else "taught as legit",
        )
    return cfg


@dataclass(frozen=True)
class SplitBounds:
    """Period boundaries (UTC, each period is ``[from, to)``)."""

    start: pd.Timestamp
    train_end: pd.Timestamp
    valid_start: pd.Timestamp
    test_start: pd.Timestamp
    end: pd.Timestamp

    @property
    def label_cutoff(self) -> pd.Timestamp:
        """Training labels count only if they arrived by this time."""
        return self.valid_start

    def as_dict(self) -> dict[str, str]:
        """ISO strings, for lineage tags and the model card."""
        return {
            "data_start": self.start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "valid_start": self.valid_start.isoformat(),
            "test_start": self.test_start.isoformat(),
            "data_end": self.end.isoformat(),
        }


@dataclass(frozen=True)
class SplitFrames:
    """The three periods, plus what was left out and why."""

    bounds: SplitBounds
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    gap_rows: int
    late_label_rows: int


def split_bounds(
    start: datetime | date | str, end: datetime | date | str, cfg: TrainingSettings
) -> SplitBounds:
    """Compute the period boundaries, counting back from ``end``.

    Raises:
        DataError: the range leaves no training period.
    """
    lo, hi = as_utc(start), as_utc(end)
    test_start = hi - pd.Timedelta(days=cfg.test_days)
    valid_start = test_start - pd.Timedelta(days=cfg.validation_days)
    train_end = valid_start - pd.Timedelta(days=cfg.label_delay_days)
    if train_end <= lo:
        need = cfg.test_days + cfg.validation_days + cfg.label_delay_days
        raise DataError(
            f"time range {lo.date()}..{hi.date()} is too short: test, validation and the "
            f"label-delay gap alone take {need} days"
        )
    return SplitBounds(lo, train_end, valid_start, test_start, hi)


def known_labels(
    frame: pd.DataFrame, cutoff: pd.Timestamp, cfg: TrainingSettings
) -> tuple[pd.DataFrame, int]:
    """The rows as a model trained at ``cutoff`` sees them, and how many frauds were late.

    A fraud whose label arrived after ``cutoff`` is unknown at that time: dropped
    (``late_labels = "unknown"``) or kept as legit (``"legit"``).
    """
    late = frame["is_fraud"].astype(bool) & ~(frame["label_time"] <= cutoff)
    if cfg.late_labels == "unknown":
        return frame[~late], int(late.sum())
    out = frame.copy()
    out.loc[late, "is_fraud"] = False
    return out, int(late.sum())


def time_split(frame: pd.DataFrame, bounds: SplitBounds, cfg: TrainingSettings) -> SplitFrames:
    """Split a labelled frame (``event_time``, ``is_fraud``, ``label_time``) by time.

    Raises:
        DataError: a period is empty or has no fraud.
    """
    t = frame["event_time"]
    train = frame[(t >= bounds.start) & (t < bounds.train_end)].copy()
    gap = int(((t >= bounds.train_end) & (t < bounds.valid_start)).sum())
    valid = frame[(t >= bounds.valid_start) & (t < bounds.test_start)]
    test = frame[(t >= bounds.test_start) & (t < bounds.end)]
    train, n_late = known_labels(train, bounds.label_cutoff, cfg)
    for name, part in (("train", train), ("validation", valid), ("test", test)):
        if part.empty or not part["is_fraud"].any():
            raise DataError(f"the {name} period has no {'rows' if part.empty else 'fraud'}")
    logger.info(
        "split: train %d, gap %d, validation %d, test %d rows; %d late-labelled frauds %s",
        len(train),
        gap,
        len(valid),
        len(test),
        n_late,
        "dropped" if cfg.late_labels == "unknown" else "kept as legit",
    )
    return SplitFrames(bounds, train, valid.copy(), test.copy(), gap, n_late)
