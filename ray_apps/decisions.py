"""``GET /v1/decisions``: recent decisions from the decision log, filtered.

Reads the day-partitioned Parquet files the scorers write (only the days the
time filter allows), or the records database's ``decisions`` table when
scoring writes no files (``records.decision_sink=kafka``), and returns the
public columns: card tokens, never card numbers (none are stored), and no
feature values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pydantic import BaseModel, Field

from fraudlens.scoring.compaction import dedupe
from fraudlens.scoring.result import Reason
from ray_apps.schemas import Decision

if TYPE_CHECKING:
    from sqlalchemy import Engine

MAX_LIMIT = 1000
"""Most decisions one call returns."""

_COLUMNS = (
    "decision_id",
    "transaction_id",
    "event_time",
    "scored_at",
    "card_token",
    "score",
    "decision",
    "model_version",
    "degraded",
    "rule_hits",
    "reasons",
    "source",
)


class DecisionRecord(BaseModel):
    """One logged decision."""

    decision_id: str
    transaction_id: str
    event_time: datetime
    scored_at: datetime
    card_token: str
    score: float | None
    decision: Decision
    model_version: str
    degraded: bool
    rule_hits: list[str] = Field(description="names of the rules that fired")
    reasons: list[Reason]
    source: str = Field(description="who scored: api or stream")


class DecisionsResponse(BaseModel):
    """Decisions matching the filters, newest first."""

    decisions: list[DecisionRecord]
    count: int
    limit: int


@dataclass(frozen=True)
class DecisionQuery:
    """Filters of ``GET /v1/decisions`` (times are UTC-aware)."""

    card_token: str | None = None
    transaction_id: str | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before datetime.min in UTC
        edge = datetime.min if value.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


def query(
    card_token: str | None,
    transaction_id: str | None,
    decision: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> DecisionQuery:
    """A query with naive times read as UTC."""
    return DecisionQuery(card_token, transaction_id, decision, _aware(since), _aware(until), limit)


def _day_files(base_dir: Path, q: DecisionQuery) -> list[str]:
    if not base_dir.is_dir():
        return []
    first = q.since.date() if q.since else None
    last = q.until.date() if q.until else None
    files: list[str] = []
    for folder in sorted(base_dir.glob("date=*")):
        try:
            day = datetime.strptime(folder.name[5:], "%Y-%m-%d").date()
        except ValueError:
            continue
        if (first and day < first) or (last and day > last):
            continue
        files += sorted(str(p) for p in folder.glob("*.parquet") if not p.name.startswith("."))
    return files


def _filter(q: DecisionQuery) -> Any:
    conditions = []
    if q.card_token:
        conditions.append(pc.field("card_token") == q.card_token)
    if q.transaction_id:
        conditions.append(pc.field("transaction_id") == q.transaction_id)
    if q.decision:
        conditions.append(pc.field("decision") == q.decision)
    if q.since:
        conditions.append(pc.field("event_time") >= pa.scalar(q.since, pa.timestamp("us", "UTC")))
    if q.until:
        conditions.append(pc.field("event_time") < pa.scalar(q.until, pa.timestamp("us", "UTC")))
    expr = None
    for condition in conditions:
        expr = condition if expr is None else expr & condition
    return expr


def read_decisions(base_dir: Path, q: DecisionQuery) -> list[DecisionRecord]:
    """Decisions in ``base_dir`` matching ``q``, newest ``scored_at`` first."""
    files = _day_files(base_dir, q)
    if not files:
        return []
    schema = pa.unify_schemas(
        [ds.dataset(f, format="parquet").schema for f in files], promote_options="permissive"
    )
    fields = [schema.field(c) for c in _COLUMNS if c in schema.names]
    table = ds.dataset(files, schema=pa.schema(fields), format="parquet").to_table(
        filter=_filter(q)
    )
    if table.num_rows == 0:
        return []
    # A decision may be logged twice (at-least-once writers, or a transaction
    # scored again after a promotion: same id): keep the one scored first, the
    # one PostgreSQL keeps.
    table = dedupe(table.take(pc.sort_indices(table, sort_keys=[("scored_at", "ascending")])))
    order = pc.sort_indices(table, sort_keys=[("scored_at", "descending")])
    return [_record(row) for row in table.take(order[: q.limit]).to_pylist()]


def read_records(engine: Engine, q: DecisionQuery) -> list[DecisionRecord]:
    """Decisions in the records database matching ``q``, newest ``scored_at`` first.

    Raises:
        RecordsError: the database cannot be read.
    """
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from fraudlens.errors import RecordsError
    from fraudlens.records.engine import db_error
    from fraudlens.records.tables import decisions as t

    scored_at = func.coalesce(t.c.scored_at, t.c.event_time).label("scored_at")
    columns = [t.c[c] for c in _COLUMNS if c != "scored_at"]
    stmt = select(*columns, scored_at)
    for column, value in (
        (t.c.card_token, q.card_token),
        (t.c.transaction_id, q.transaction_id),
        (t.c.decision, q.decision),
    ):
        if value:
            stmt = stmt.where(column == value)
    if q.since:
        stmt = stmt.where(t.c.event_time >= q.since)
    if q.until:
        stmt = stmt.where(t.c.event_time < q.until)
    stmt = stmt.order_by(scored_at.desc(), t.c.decision_id).limit(q.limit)
    try:
        with engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
    except SQLAlchemyError as exc:
        raise RecordsError(f"cannot read decisions: {db_error(exc)}") from exc
    return [DecisionRecord.model_validate(dict(row)) for row in rows]


def _record(row: dict[str, Any]) -> DecisionRecord:
    for column in ("rule_hits", "reasons"):
        row[column] = json.loads(row.get(column) or "[]")
    for column in ("event_time", "scored_at"):
        if isinstance(row.get(column), datetime) and row[column].tzinfo is None:
            row[column] = row[column].replace(tzinfo=UTC)
    return DecisionRecord.model_validate(row)
