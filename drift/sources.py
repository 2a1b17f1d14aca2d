"""Where the drift monitor and the label joins read decisions and labels.

One interface, two places: the Parquet decision log and label store under
``DATA_DIR`` (a laptop without the records sink), or the records database
(PostgreSQL, filled by ``fraudlens records sink``) that every replica and
scheduled job shares. ``drift.source`` picks one; ``auto`` reads PostgreSQL
when the API publishes its decisions to the topic only
(``records.decision_sink=kafka``: no Parquet log is written then).

The records database keeps the feature vector of a deterministic sample of
decisions (``records.feature_sample_rate``, column ``decisions.features``).
Asked for features, ``RecordsSource`` returns the sampled decisions of the
window only: a sample by a hash of the decision id, so it is as even as the
whole window and the score test loses nothing but rows. When the window holds
fewer sampled decisions than ``drift.min_window_rows`` (a low rate, or rows
stored before migration 0006), it returns every decision without features
and the drift check tests the score only, naming the features not tested.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from fraudlens.scoring.decision_log import FEATURE_PREFIX
from fraudlens.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine, Select

DECISION_COLUMNS = (
    "decision_id",
    "transaction_id",
    "event_time",
    "score",
    "decision",
    "model_version",
    "degraded",
    "source",
)
LABEL_COLUMNS = ("transaction_id", "is_fraud", "label_time")

logger = logging.getLogger(__name__)


class DecisionSource(Protocol):
    """Reads decisions and labels for drift checks and matured-label metrics."""

    def decisions(
        self,
        start: datetime,
        end: datetime,
        *,
        scored_only: bool = False,
        at_most: int = 0,
        features: bool = False,
    ) -> pd.DataFrame:
        """Decisions with ``start <= event_time < end`` (UTC ``event_time`` column).

        Args:
            start: first event time (inclusive).
            end: last event time (exclusive).
            scored_only: leave out degraded decisions and those without a score.
            at_most: an even, reproducible sample of this many rows when there
                are more (0: all).
            features: with their feature values as ``f_<name>`` columns (a source
                that keeps vectors for a sample of decisions returns that sample).
        """
        ...

    def labels(self, start: datetime, end: datetime, known_by: datetime) -> pd.DataFrame:
        """Labels given by ``known_by``: at least those of the transactions decided in
        ``[start, end)`` (columns ``transaction_id``, ``is_fraud``, ``label_time``)."""
        ...


def decisions_dir(settings: Settings) -> Path:
    """The decision log root (``DATA_DIR/decisions``, as serving writes it)."""
    return settings.data_dir / "decisions"


def labels_dir(settings: Settings) -> Path:
    """The label store (``DATA_DIR/labels``, Parquet)."""
    return settings.data_dir / "labels"


def read_labels(folder: Path) -> pd.DataFrame:
    """Every label under ``folder`` (Parquet files, dot files skipped)."""
    files = sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith("."))
    if not files:
        return pd.DataFrame(columns=list(LABEL_COLUMNS))
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


class ParquetSource:
    """The Parquet decision log (features as ``f_`` columns) and label store of one machine."""

    def __init__(self, settings: Settings) -> None:
        self.decisions_dir = decisions_dir(settings)
        self.labels_dir = labels_dir(settings)

    def decisions(
        self,
        start: datetime,
        end: datetime,
        *,
        scored_only: bool = False,
        at_most: int = 0,
        features: bool = False,
    ) -> pd.DataFrame:
        """See ``DecisionSource.decisions`` (the log has every vector: ``features`` is moot)."""
        from fraudlens.scoring.decision_log import read_log

        days = pd.date_range(start.date(), end.date(), freq="D")
        parts = [read_log(self.decisions_dir, f"{d:%Y-%m-%d}") for d in days]
        frame = pd.concat([p for p in parts if not p.empty] or [pd.DataFrame()], ignore_index=True)
        if frame.empty:
            return frame
        times = pd.to_datetime(frame["event_time"], utc=True)
        keep = (times >= pd.Timestamp(start)) & (times < pd.Timestamp(end))
        if scored_only:
            if "degraded" in frame.columns:
                keep &= ~frame["degraded"].fillna(False).astype(bool)
            keep &= frame["score"].notna()
        frame = frame.loc[keep].assign(event_time=times[keep])
        if at_most and len(frame) > at_most:
            frame = frame.sample(n=at_most, random_state=0)
        return frame.reset_index(drop=True)

    def labels(self, start: datetime, end: datetime, known_by: datetime) -> pd.DataFrame:
        frame = read_labels(self.labels_dir)
        return frame.loc[pd.to_datetime(frame["label_time"], utc=True) <= known_by]


class RecordsSource:
    """The records database: decisions stored by the sink, labels from every source.

    Args:
        engine: a migrated records database (the caller disposes of it).
        min_feature_rows: fewer sampled feature vectors in a window: return its
            decisions without features (``drift.min_window_rows``).
    """

    def __init__(self, engine: Engine, min_feature_rows: int = 1) -> None:
        self.engine = engine
        self.min_feature_rows = min_feature_rows

    def decisions(
        self,
        start: datetime,
        end: datetime,
        *,
        scored_only: bool = False,
        at_most: int = 0,
        features: bool = False,
    ) -> pd.DataFrame:
        """See ``DecisionSource.decisions``; with ``features``, the sampled decisions only."""
        from sqlalchemy import func, select

        from fraudlens.records.tables import decisions as table

        columns = DECISION_COLUMNS + (("features",) if features else ())
        stmt = select(*(table.c[name] for name in columns)).where(
            table.c.event_time >= start, table.c.event_time < end
        )
        if scored_only:
            stmt = stmt.where(table.c.degraded.is_(False), table.c.score.is_not(None))
        if at_most:
            # a hash of the id spreads the sample over the whole window, the same each
            # time; decisions with a vector first (the sample rule draws them by the same
            # hash, so they are the head of this order anyway at a constant rate)
            by_hash = func.md5(table.c.decision_id)
            if features:
                stmt = stmt.order_by(table.c.features.is_(None), by_hash)
            else:
                stmt = stmt.order_by(by_hash)
            stmt = stmt.limit(at_most)
        frame = self._read(stmt, columns)
        frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
        frame["score"] = frame["score"].astype("float64")
        if features:
            frame = self._with_features(frame, start, end)
        return frame

    def _with_features(self, frame: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
        """The rows with a vector, its values as ``f_`` columns; or all rows, none."""
        vectors = frame.pop("features")
        has = vectors.notna()
        if int(has.sum()) < self.min_feature_rows:
            if len(frame):
                logger.warning(
                    "%d of %d decisions in [%s, %s) carry a feature vector (< %d, "
                    "records.feature_sample_rate): features not read",
                    int(has.sum()),
                    len(frame),
                    start,
                    end,
                    self.min_feature_rows,
                )
            return frame
        values = pd.DataFrame.from_records(list(vectors[has]), index=frame.index[has])
        values = values.astype("float64").add_prefix(FEATURE_PREFIX)
        return pd.concat([frame.loc[has], values], axis=1).reset_index(drop=True)

    def labels(self, start: datetime, end: datetime, known_by: datetime) -> pd.DataFrame:
        from sqlalchemy import select

        from fraudlens.records.tables import decisions, labels

        decided = select(decisions.c.transaction_id).where(
            decisions.c.event_time >= start, decisions.c.event_time < end
        )
        stmt = (
            select(*(labels.c[name] for name in LABEL_COLUMNS))
            .where(labels.c.label_time <= known_by, labels.c.transaction_id.in_(decided))
            .order_by(labels.c.label_time, labels.c.label_id)
        )  # arrival order breaks time ties
        return self._read(stmt, LABEL_COLUMNS)

    def _read(self, stmt: Select[Any], columns: tuple[str, ...]) -> pd.DataFrame:
        from sqlalchemy.exc import SQLAlchemyError

        from fraudlens.errors import RecordsError
        from fraudlens.records.engine import db_error

        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).mappings().all()
        except SQLAlchemyError as exc:
            raise RecordsError(f"cannot read the records database: {db_error(exc)}") from exc
        return pd.DataFrame([dict(r) for r in rows], columns=list(columns))


def reads_records(settings: Settings) -> bool:
    """Whether ``drift.source`` (``auto`` resolved) is the records database."""
    choice = settings.drift.source
    if choice == "auto":
        return settings.resolved_decision_sink() == "kafka"
    return choice == "records"


def decision_source(settings: Settings, engine: Engine | None = None) -> DecisionSource:
    """The source ``drift.source`` names.

    Args:
        settings: FraudLens settings.
        engine: the records database to read when that is the source.

    Raises:
        ConfigError: the records database is the source and no engine is given.
    """
    if not reads_records(settings):
        return ParquetSource(settings)
    if engine is None:
        from fraudlens.errors import ConfigError

        raise ConfigError(
            "drift.source is the records database but none is open "
            "(set records.database_url, or drift.source=parquet)"
        )
    return RecordsSource(engine, min_feature_rows=settings.drift.min_window_rows)
