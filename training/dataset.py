"""The training set: labelled transactions joined with their feature vectors.

``load_training_data`` reads the history of a time range and asks Feast for
the features of the model's feature service from the per-transaction
``transaction_features`` view (an as-of join on ``transaction_id``), checking
that every transaction comes back exactly once with a feature row: offline
stores silently drop or null entity rows with no feature match. ``from_frame`` wraps a
frame built elsewhere (tests, benchmarks, ``training.local_features``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from fraudlens.errors import DataError
from fraudlens.features.context import CONTEXT_NAMES, frame_context
from fraudlens.features.extras import column
from fraudlens.history import find_history, import_extras
from fraudlens.settings import Settings
from training.lineage import fingerprint
from training.split import as_utc

logger = logging.getLogger(__name__)

LABEL_COLUMNS = (
    "transaction_id",
    "event_time",
    "card_token",
    "amount",
    "is_fraud",
    "label_time",
    "fraud_scenario",
)


@dataclass(frozen=True)
class TrainingData:
    """A labelled feature frame and where it came from.

    Attributes:
        frame: ``LABEL_COLUMNS`` plus one column per feature, sorted by time.
        feature_names: model input columns, in order.
        feature_service: the Feast feature service that defines them.
        start: first instant of the data range (UTC).
        end: end of the data range, exclusive (UTC).
        source: ``feast`` or ``frame``.
        extras: numeric passthrough columns among ``feature_names``
            (``x_<name>``), name -> the default a request without the value takes.
        categorical: categorical passthrough columns, name -> default: their
            raw text columns ``x_<name>`` ride in ``frame``, not in
            ``feature_names``; training expands them (``fraudlens.features.categories``).
    """

    frame: pd.DataFrame
    feature_names: list[str]
    feature_service: str
    start: pd.Timestamp
    end: pd.Timestamp
    source: str = "frame"
    extras: dict[str, float] = field(default_factory=dict)
    categorical: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Hash of the ids, labels and features (changes when any value does)."""
        raw = [column(name) for name in self.categorical]
        cols = ["transaction_id", "event_time", "is_fraud", *self.feature_names, *raw]
        return fingerprint(self.frame, cols)


def check_frame(frame: pd.DataFrame, feature_names: Sequence[str]) -> None:
    """Refuse frames that would silently train a bad model.

    Raises:
        DataError: missing columns, duplicated transactions, or non-finite features.
    """
    missing = [c for c in (*LABEL_COLUMNS, *feature_names) if c not in frame.columns]
    if missing:
        raise DataError(f"training frame lacks column(s): {', '.join(missing[:10])}")
    if frame["transaction_id"].duplicated().any():
        raise DataError("training frame has duplicated transaction ids")
    values = frame[list(feature_names)].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        cols = [feature_names[int(j)] for j in np.flatnonzero(bad.any(axis=0))]
        raise DataError(f"non-finite feature values in: {', '.join(cols[:10])}")


def from_frame(
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    feature_service: str,
    start: datetime | date | str,
    end: datetime | date | str,
) -> TrainingData:
    """Wrap a labelled feature frame, keeping rows with ``start <= event_time < end``.

    Raises:
        DataError: see ``check_frame``; or no rows in the range.
    """
    lo, hi = as_utc(start), as_utc(end)
    check_frame(frame, feature_names)
    t = frame["event_time"]
    kept = frame[(t >= lo) & (t < hi)].sort_values(["event_time", "transaction_id"], kind="stable")
    if kept.empty:
        raise DataError(f"no transactions between {lo} and {hi}")
    return TrainingData(kept.reset_index(drop=True), list(feature_names), feature_service, lo, hi)


def read_history(folder: Path, start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
    """Transactions of ``[start, end)`` (all before ``end`` if no start) with their labels.

    ``transactions.parquet`` and ``labels.parquet`` (simulator or importer
    layout; an import's passthrough columns ``x_*`` come along). A
    transaction is fraud if any fraud label names it; its ``label_time`` is
    when the first fraud label arrived.

    Raises:
        DataError: a file is missing or the range has no transactions.
    """
    paths = folder / "transactions.parquet", folder / "labels.parquet"
    for path in paths:
        if not path.exists():
            raise DataError(f"{path} not found: run `fraudlens simulate` or `fraudlens import`")
    # Filters at read time: only the range's row groups are held in memory.
    bounds = [("event_time", "<", end)]
    if start is not None:
        bounds.append(("event_time", ">=", start))
    tx = pd.read_parquet(paths[0], filters=bounds)
    keep = tx["event_time"] < end
    if start is not None:
        keep &= tx["event_time"] >= start
    tx = tx[keep]
    if tx.empty:
        raise DataError(f"no transactions between {start} and {end} in {folder}")
    labels = pd.read_parquet(
        paths[1], columns=["transaction_id", "is_fraud", "label_time", "fraud_scenario"]
    )
    fraud = labels[labels["is_fraud"].astype(bool)].sort_values("label_time", kind="stable")
    fraud = fraud.drop_duplicates("transaction_id").drop(columns="is_fraud")
    tx = tx.drop(columns=[c for c in ("is_fraud", "label_time", "fraud_scenario") if c in tx])
    out = tx.merge(fraud, on="transaction_id", how="left", validate="one_to_one")
    out["is_fraud"] = out["label_time"].notna()
    return out.reset_index(drop=True)


def in_time_chunks(
    history: pd.DataFrame, days: int, fetch: Callable[[pd.DataFrame], pd.DataFrame]
) -> pd.DataFrame:
    """Fetch feature rows for ``history`` ``days`` of event time at a time.

    Feast's point-in-time join is row by row, so the chunks give the same rows
    as one giant join, with memory bounded by a chunk. Rows are counted in and
    out of every chunk and logged, as progress.

    Args:
        history: rows with ``event_time`` (any order; a default RangeIndex).
        days: chunk width in days.
        fetch: one chunk of ``history`` -> one output row per input row, in order.

    Returns:
        The fetched rows in the order of ``history``.

    Raises:
        DataError: a chunk came back with another number of rows.
    """
    times = history["event_time"]
    if history.empty:
        return fetch(history)
    width = pd.Timedelta(days=days)
    chunk = ((times - times.min()) // width).to_numpy()
    ids = np.unique(chunk)
    parts: list[pd.DataFrame] = []
    started = time.perf_counter()
    for n, key in enumerate(ids, start=1):
        rows = history[chunk == key]
        out = fetch(rows)
        if len(out) != len(rows):
            raise DataError(f"feature chunk {n}: {len(rows)} rows in, {len(out)} rows out")
        parts.append(out.set_axis(rows.index))
        logger.info(
            "features: chunk %d/%d (%s..%s): %d rows in, %d out, %.0f s so far",
            n,
            len(ids),
            rows["event_time"].min().date(),
            rows["event_time"].max().date(),
            len(rows),
            len(out),
            time.perf_counter() - started,
        )
    return pd.concat(parts).sort_index().reset_index(drop=True)


def service_features(settings: Settings, service: str) -> list[str]:
    """Feature names of a feature service, read from the Feast definitions in the repo.

    Raises:
        DataError: the repo defines no such feature service.
    """
    from feast import FeatureService

    from fraudlens.features.registry import FEATURE_NAMES
    from fraudlens.features.repo import load_definitions

    for obj in load_definitions(settings):
        if isinstance(obj, FeatureService) and obj.name == service:
            names = {f.name for p in obj.feature_view_projections for f in p.features}
            return [n for n in FEATURE_NAMES if n in names]
    raise DataError(f"feature service {service!r} is not defined in {settings.feast.repo_path}")


def load_training_data(
    settings: Settings,
    start: datetime | date | str,
    end: datetime | date | str,
    feature_service: str | None = None,
    *,
    folder: Path | None = None,
) -> TrainingData:
    """Labelled history of ``[start, end)`` with the features of a feature service.

    With ``training.features_source = "feast"`` (default) the features come from
    Feast's ``transaction_features`` view (the feature service names which), with
    rows counted in and out. With ``"memory"``
    the same feature functions are folded over the history in this process
    (exactly equal values, no offline store needed; for small data and demos).

    Args:
        settings: FraudLens settings (``training.history_dir``, ``feast``).
        start: first instant (a date means midnight UTC).
        end: end, exclusive.
        feature_service: the feature service to read (default: the training setting).
        folder: the history folder (default: ``fraudlens.history.find_history``).

    Raises:
        DataError: no history, the join lost or duplicated rows, or a
            transaction has no feature row (run ``fraudlens features backfill``).
        FeatureStoreError: Feast could not answer.
    """
    lo, hi = as_utc(start), as_utc(end)
    service = feature_service or settings.training.feature_service
    if folder is None:
        folder = find_history(settings.data_dir, settings.training.history_dir).folder
    # Passthrough columns belong to the transaction: they ride on the history rows.
    declared = import_extras(folder)
    extras, categorical = dict(declared.numeric), dict(declared.categorical)
    extra_names = [column(name) for name in extras]
    raw_names = [column(name) for name in categorical]
    if settings.training.features_source == "memory":
        from training.local_features import compute_features

        names = service_features(settings, service)
        history = read_history(folder, None, hi)  # earlier rows feed the windows
        _check_extras(history, extra_names + raw_names, folder)
        features = compute_features(
            history,
            settings.feast.max_label_delay_days,
            matured_delay_days=settings.features.matured_delay_days,
        )
        frame = pd.concat([history, features[names], frame_context(history)], axis=1)
        data = from_frame(frame, [*names, *CONTEXT_NAMES, *extra_names], service, lo, hi)
        return TrainingData(
            data.frame,
            data.feature_names,
            service,
            lo,
            hi,
            source="memory",
            extras=extras,
            categorical=categorical,
        )
    from fraudlens.features.delay import check_rows_delay, uses_matured
    from fraudlens.features.repo import offline_path
    from fraudlens.features.store import historical_rows, open_store
    from fraudlens.features.transaction_rows import TXN_VIEW

    names = service_features(settings, service)
    if uses_matured(names):  # rows baked with another delay would train a mismatched model
        check_rows_delay(offline_path(settings) / TXN_VIEW, settings.features.matured_delay_days)
    history = read_history(folder, lo, hi)
    _check_extras(history, extra_names + raw_names, folder)
    store = open_store(settings)
    vectors = in_time_chunks(
        history,
        settings.training.feature_chunk_days,
        lambda part: historical_rows(store, part, names),
    )
    # historical_rows checks the join; check again that rows line up one to one.
    if len(vectors) != len(history) or not np.array_equal(
        vectors["transaction_id"].to_numpy(), history["transaction_id"].astype(str).to_numpy()
    ):
        raise DataError(f"feature join: {len(history)} transactions in, {len(vectors)} rows out")
    vectors = vectors[names].reset_index(drop=True)
    frame = pd.concat([history, vectors, frame_context(history).reset_index(drop=True)], axis=1)
    logger.info(
        "training data: %d rows in, %d out, %d features (%d passthrough), "
        "%d categorical passthrough columns",
        len(history),
        len(frame),
        len(names) + len(CONTEXT_NAMES) + len(extra_names),
        len(extra_names),
        len(raw_names),
    )
    data = from_frame(frame, [*names, *CONTEXT_NAMES, *extra_names], service, lo, hi)
    return TrainingData(
        data.frame,
        data.feature_names,
        service,
        lo,
        hi,
        source="feast",
        extras=extras,
        categorical=categorical,
    )


def _check_extras(history: pd.DataFrame, columns: Sequence[str], folder: Path) -> None:
    missing = [c for c in columns if c not in history.columns]
    if missing:
        raise DataError(
            f"{folder}: import.json declares passthrough column(s) missing from "
            f"transactions.parquet: {', '.join(missing)} (import again)"
        )
