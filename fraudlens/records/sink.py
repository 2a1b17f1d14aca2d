"""The records sink: a consumer group that copies the decisions (shadow scores, labels) topics
into PostgreSQL.

Each batch is upserted in one database transaction (``ON CONFLICT
(decision_id) DO NOTHING``; a label identical to a stored one is skipped the
same way); the Kafka offsets are committed only after that transaction
committed (``EventConsumer`` commits after the handler returns). A crash
between the two redelivers the batch, and the upsert makes the second write a
no-op: at-least-once delivery plus an idempotent write gives exactly one row
per decision. Shadow scores (the challenger's, ``kafka.shadow_topic``) are
stored the same way, one row per transaction and challenger version. Messages
that cannot be stored (bad JSON, a
field too long for its column, NUL characters) go to the dead-letter topic
with the reason, so one bad message cannot block the partition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pydantic
from sqlalchemy import Engine, String, Table
from sqlalchemy.exc import SQLAlchemyError

from fraudlens.errors import ConfigError, RecordsError, ValidationError
from fraudlens.kafka.consumer import ConsumedEvent, Decoder, EventConsumer, default_decoders
from fraudlens.records.cases import CASE_DECISIONS, open_cases
from fraudlens.records.decisions import decision_row, upsert_decisions
from fraudlens.records.engine import db_error, engine_from_settings
from fraudlens.records.labels import LabelRecord, add_labels
from fraudlens.records.shadow import shadow_row, upsert_shadow_scores
from fraudlens.records.sink_metrics import SinkMetrics
from fraudlens.records.tables import decisions, shadow_scores
from fraudlens.schema import Label
from fraudlens.scoring.metrics import start_metrics_server
from fraudlens.scoring.shadow_topic import ShadowEvent
from fraudlens.scoring.stream import DecisionEvent

if TYPE_CHECKING:
    from fraudlens.settings import Settings

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=pydantic.BaseModel)

SOURCES = frozenset({"api", "stream"})
MAX_FEATURES = 1024
"""Most feature values one decision may carry (a model has tens; more is a broken producer)."""


def _max_lengths(table: Table) -> dict[str, int]:
    return {
        c.name: c.type.length
        for c in table.columns
        if isinstance(c.type, String) and c.type.length is not None
    }


_MAX_LENGTH = _max_lengths(decisions)
_SHADOW_LENGTH = _max_lengths(shadow_scores)


@dataclass
class SinkStats:
    """What one run of the sink did."""

    consumed: int = 0
    dead_lettered: int = 0
    inserted: int = 0
    already_stored: int = 0
    labels_inserted: int = 0
    labels_already_stored: int = 0
    shadow_inserted: int = 0
    shadow_already_stored: int = 0
    cases_opened: int = 0


def _validated(raw: bytes | None, model: type[M], lengths: dict[str, int]) -> M:
    """``raw`` as a ``model``, checked against what PostgreSQL can store.

    Raises:
        ValidationError: naming the field that cannot be stored.
    """
    if raw is None:
        raise ValidationError("$", "empty message")
    if b"\x00" in raw or b"\\u0000" in raw:
        raise ValidationError("$", "contains a NUL character (PostgreSQL cannot store it)")
    try:
        event = model.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "$"
        raise ValidationError(field, err["msg"]) from None
    for name, limit in lengths.items():
        value = getattr(event, name, None)
        if isinstance(value, str) and len(value) > limit:
            raise ValidationError(name, f"longer than {limit} characters")
    return event


def parse_decision(raw: bytes | None) -> DecisionEvent:
    """Validate one message of the decisions topic for storage.

    Raises:
        ValidationError: naming the field that cannot be stored.
    """
    event = _validated(raw, DecisionEvent, _MAX_LENGTH)
    if event.source not in SOURCES:
        raise ValidationError("source", f"{event.source!r} is not one of {sorted(SOURCES)}")
    if event.features is not None and len(event.features) > MAX_FEATURES:
        raise ValidationError("features", f"more than {MAX_FEATURES} values")
    return event


def parse_shadow(raw: bytes | None) -> ShadowEvent:
    """Validate one message of the shadow-scores topic for storage.

    Raises:
        ValidationError: naming the field that cannot be stored.
    """
    return _validated(raw, ShadowEvent, _SHADOW_LENGTH)


def _decoder(raw: bytes | None, now: datetime) -> DecisionEvent:
    return parse_decision(raw)


def _shadow_decoder(raw: bytes | None, now: datetime) -> ShadowEvent:
    return parse_shadow(raw)


def label_record(label: Label) -> LabelRecord:
    """The ``labels`` row of a label from the labels topic."""
    return LabelRecord(
        label.transaction_id,
        label.is_fraud,
        label.label_time,
        label.source.value,
        label.author or "",
    )


class DecisionWriter:
    """The consumer handler: upsert one batch (decisions and labels) in one transaction.

    Every decision in ``case_decisions`` (a review, by default a decline too)
    opens an analyst case in the same transaction (see ``open_cases``);
    ``group_window`` groups a card's cases.
    """

    def __init__(
        self,
        engine: Engine,
        group_window: timedelta = timedelta(hours=1),
        metrics: SinkMetrics | None = None,
        case_decisions: Collection[str] = CASE_DECISIONS,
    ) -> None:
        self.engine = engine
        self.group_window = group_window
        self.case_decisions = case_decisions
        self.stats = SinkStats()
        self.metrics = metrics or SinkMetrics()
        self.consumer: EventConsumer | None = None  # set by the loop: its dead-letter count
        self._dead_counted = 0

    def __call__(self, batch: list[ConsumedEvent]) -> None:
        """Store the batch; raising stops the loop before the offsets are committed."""
        found = [item.event for item in batch if isinstance(item.event, Label)]
        shadow = [shadow_row(item.event) for item in batch if isinstance(item.event, ShadowEvent)]
        rows = [
            decision_row(cast(DecisionEvent, item.event))
            for item in batch
            if not isinstance(item.event, Label | ShadowEvent)
        ]
        try:
            with self.engine.begin() as conn:
                inserted = upsert_decisions(conn, rows)
                opened = open_cases(conn, rows, self.group_window, self.case_decisions)
                new_labels = add_labels(conn, [label_record(label) for label in found])
                new_shadow = upsert_shadow_scores(conn, shadow)
        except SQLAlchemyError as exc:
            self.metrics.errors.inc()
            raise RecordsError(f"storing a batch of {len(batch)} failed: {db_error(exc)}") from exc
        self.stats.inserted += inserted
        self.stats.cases_opened += opened
        self.stats.already_stored += len(rows) - inserted
        self.stats.labels_inserted += new_labels
        self.stats.labels_already_stored += len(found) - new_labels
        self.stats.shadow_inserted += new_shadow
        self.stats.shadow_already_stored += len(shadow) - new_shadow
        others = {"label": (len(found), new_labels), "shadow": (len(shadow), new_shadow)}
        self._observe(rows, inserted, others)

    def _observe(
        self, rows: list[dict[str, Any]], inserted: int, others: dict[str, tuple[int, int]]
    ) -> None:
        m, now = self.metrics, time.time()
        m.stored.labels("decision").inc(inserted)
        m.duplicates.labels("decision").inc(len(rows) - inserted)
        for kind, (consumed, new) in others.items():  # label, shadow: (consumed, stored)
            m.stored.labels(kind).inc(new)
            m.duplicates.labels(kind).inc(consumed - new)
        m.last_batch.set(now)
        if rows:
            m.lag.set(max(0.0, now - max(r["scored_at"].timestamp() for r in rows)))
        self.count_dead_letters()

    def count_dead_letters(self) -> None:
        """Bring the dead-letter counter up to the consumer's count."""
        if self.consumer is not None:
            dead = self.consumer.stats.dead_lettered
            self.metrics.dead_letters.inc(dead - self._dead_counted)
            self._dead_counted = dead


def run_decision_sink(
    settings: Settings,
    stop_event: threading.Event | None = None,
    *,
    idle_timeout: float | None = None,
    max_events: int | None = None,
    group_id: str | None = None,
    batch_size: int = 500,
    consumer_config: dict[str, Any] | None = None,
    labels: bool = False,
    metrics: SinkMetrics | None = None,
) -> SinkStats:
    """Copy the decisions topic into the ``decisions`` table, and the shadow-scores
    topic into ``shadow_scores``, until stopped.

    Args:
        settings: FraudLens settings (``kafka``, ``records``).
        stop_event: stops the loop between batches when set.
        idle_timeout: stop after this many seconds without messages.
        max_events: stop after this many messages.
        group_id: consumer group (default ``<kafka.consumer_group>-records-sink``).
        batch_size: most decisions per database transaction.
        consumer_config: librdkafka overrides for the consumer.
        labels: also copy the labels topic into the ``labels`` table (validated
            like every label consumer: invalid ones are dead-lettered).
        metrics: where to count (default: a fresh registry, served on
            ``metrics.port`` when it is set).

    Returns:
        Counters of this run.

    Raises:
        RecordsError: the database refused a batch (its offsets are not committed).
        BrokerError: consuming or committing failed.
    """
    engine = engine_from_settings(settings)
    group_window = timedelta(minutes=settings.workspace.group_window_minutes)
    writer = DecisionWriter(engine, group_window, metrics, settings.workspace.case_decisions)
    try:
        stop_metrics = start_metrics_server(
            settings.metrics.port, writer.metrics.registry, settings.metrics.host
        )
    except ConfigError:
        engine.dispose()
        raise
    kafka = settings.kafka
    # EventConsumer's decoders are typed for transactions and labels; these
    # yield DecisionEvent and ShadowEvent, which only our handler reads back.
    decoders = {
        kafka.decisions_topic: cast(Decoder, _decoder),
        kafka.shadow_topic: cast(Decoder, _shadow_decoder),
    }
    if labels:
        decoders[kafka.labels_topic] = default_decoders(kafka, settings.validation)[
            kafka.labels_topic
        ]
    try:
        with EventConsumer(
            settings.kafka,
            list(decoders),
            writer,
            group_id=group_id or f"{settings.kafka.consumer_group}-records-sink",
            batch_size=batch_size,
            config=consumer_config,
            decoders=decoders,
        ) as consumer:
            writer.consumer = consumer
            counters = consumer.run(
                stop=stop_event, max_events=max_events, idle_timeout=idle_timeout
            )
            writer.count_dead_letters()
    finally:
        engine.dispose()
        stop_metrics()
    writer.stats.consumed = counters.consumed
    writer.stats.dead_lettered = counters.dead_lettered
    logger.info(
        "records sink stopped: %d consumed, %d decisions, %d labels and %d shadow scores "
        "inserted, %d already stored, %d dead-lettered",
        counters.consumed,
        writer.stats.inserted,
        writer.stats.labels_inserted,
        writer.stats.shadow_inserted,
        writer.stats.already_stored
        + writer.stats.labels_already_stored
        + writer.stats.shadow_already_stored,
        counters.dead_lettered,
    )
    return writer.stats


__all__ = [
    "DecisionWriter",
    "SinkStats",
    "label_record",
    "parse_decision",
    "parse_shadow",
    "run_decision_sink",
]
