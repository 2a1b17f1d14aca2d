"""Where the drift monitor and the label joins read decisions and labels.

One interface, two places: the Parquet decision log and label store under
``DATA_DIR`` (a laptop without the records sink), or the records database
(PostgreSQL, filled by ``fraudlens records sink``) that every replica and
scheduled job shares. ``drift.source`` picks one; ``auto`` reads PostgreSQL
when the API publishes its decisions to the topic only
(``records.decision_sink=kafka``: no Parquet log is written then).

The records database keeps no feature vectors (the ``decisions`` table has no
column for them), so a drift check on it tests the score only.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

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


class DecisionSource(Protocol):
    """Reads decisions and labels for drift checks and matured-label metrics."""

    def decisions(
        self, start: datetime, end: datetime, *, scored_only: bool = False, at_most: int = 0
    ) -> pd.DataFrame:
        """Decisions with ``start <= event_time < end`` (UTC ``event_time`` column).

        Args:
            start: first event time (inclusive).
            end: last event time (exclusive).
            scored_only: leave out degraded decisions and those without a score.
            at_most: an even, reproducible sample of this many rows when there
                are more (0: all).
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
        self, start: datetime, end: datetime, *, scored_only: bool = False, at_most: int = 0
    ) -> pd.DataFrame:
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
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def decisions(
        self, start: datetime, end: datetime, *, scored_only: bool = False, at_most: int = 0
    ) -> pd.DataFrame:
        from sqlalchemy import func, select

        from fraudlens.records.tables import decisions as table

        stmt = select(*(table.c[name] for name in DECISION_COLUMNS)).where(
            table.c.event_time >= start, table.c.event_time < end
        )
        if scored_only:
            stmt = stmt.where(table.c.degraded.is_(False), table.c.score.is_not(None))
        if at_most:
            # a hash of the id spreads the sample over the whole window, the same each time
            stmt = stmt.order_by(func.md5(table.c.decision_id)).limit(at_most)
        frame = self._read(stmt, DECISION_COLUMNS)
        frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
        frame["score"] = frame["score"].astype("float64")
        return frame

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
    return RecordsSource(engine)
