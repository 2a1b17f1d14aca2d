"""The stream scorer (``fraudlens stream score``): transactions topic -> decisions topic.

Consumes ``transactions`` in micro-batches with the at-least-once consumer
loop, scores each batch with the same ``ScoringService`` as the API, and
publishes one ``DecisionEvent`` per transaction to ``decisions``. The handler
waits until the decisions are acknowledged before returning, so offsets are
committed only after the decisions are durable. A redelivered transaction
gets the same ``decision_id`` (a function of the transaction id alone, even
when the champion changed in between): consumers of ``decisions`` keep the
first one stored and drop the others by that id. A deterministic sample of the
decisions (``records.feature_sample_rate``, see ``feature_sample``) carries
its feature vector, for the drift monitor reading the records database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import to_json

from fraudlens.kafka.consumer import ConsumedEvent, ConsumerStats, EventConsumer
from fraudlens.kafka.producer import EventProducer
from fraudlens.schema import Transaction
from fraudlens.scoring.config import ScoringConfig
from fraudlens.scoring.factory import (
    build_service,
    default_config,
    freeze_heap,
    single_threaded_numerics,
)
from fraudlens.scoring.feature_sample import feature_sampled
from fraudlens.scoring.metrics import StreamScorerMetrics, start_metrics_server
from fraudlens.scoring.result import Reason, ScoreResult
from fraudlens.scoring.service import ScoringService
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

DECISION_ID_HEADER = "fraudlens.decision_id"


class DecisionEvent(BaseModel):
    """One decision as published on the ``decisions`` topic (keyed by card token)."""

    schema_version: Literal[1] = 1
    decision_id: str
    transaction_id: str
    event_time: datetime
    card_token: str
    score: float | None
    decision: Literal["approve", "review", "decline"]
    reasons: list[Reason]
    model_version: str
    degraded: bool
    scored_at: datetime
    source: str = "stream"
    transaction: dict[str, Any] | None = None  # case_facts: amount, terminal, merchant, ...
    # The feature vector of a sampled decision (None: not sampled, or an older
    # producer); non-finite values travel as null, as JSONB stores them.
    features: dict[str, float | None] | None = None


def decision_fields(
    result: ScoreResult,
    scored_at: datetime,
    source: str = "stream",
    feature_sample_rate: float = 0.0,
) -> dict[str, Any]:
    """The fields of a result's ``DecisionEvent``, in the event's order.

    Args:
        result: the scored transaction.
        scored_at: when it was scored.
        source: ``api`` or ``stream``.
        feature_sample_rate: share of decisions whose features travel with them,
            chosen by a hash of the decision id (``feature_sampled``); the others
            keep theirs in the Parquet decision log only, when there is one.
    """
    sampled = bool(result.features) and feature_sampled(result.decision_id, feature_sample_rate)
    score = result.score
    features = None
    if sampled:  # the values the model would hold: floats
        features = {
            name: None if value is None else float(value) for name, value in result.features.items()
        }
    return {
        "schema_version": 1,
        "decision_id": result.decision_id,
        "transaction_id": result.transaction_id,
        "event_time": result.event_time,
        "card_token": result.card_token,
        "score": None if score is None else float(score),
        "decision": result.decision,
        "reasons": result.reasons,
        "model_version": result.model_version,
        "degraded": result.degraded,
        "scored_at": scored_at,
        "source": source,
        "transaction": result.transaction or None,
        "features": features,
    }


def decision_event(
    result: ScoreResult,
    scored_at: datetime,
    source: str = "stream",
    feature_sample_rate: float = 0.0,
) -> DecisionEvent:
    """The topic's view of a result (arguments: ``decision_fields``)."""
    return DecisionEvent(**decision_fields(result, scored_at, source, feature_sample_rate))


def decision_json(
    result: ScoreResult,
    scored_at: datetime,
    source: str = "stream",
    feature_sample_rate: float = 0.0,
) -> bytes:
    """The topic's message for a result: ``decision_event(...).model_dump_json().encode()``.

    The same bytes (a unit test compares them on varied results) for a third of
    the CPU: no model is validated per row, pydantic-core serializes the fields
    (``decision_fields``) as they are, non-finite floats as null.
    """
    fields = decision_fields(result, scored_at, source, feature_sample_rate)
    return to_json(fields, inf_nan_mode="null")


class StreamScorer:
    """The consumer handler: score a batch, publish its decisions, wait for the acks.

    Args:
        service: the scoring service (model already loaded).
        producer: publishes to the decisions topic.
        topic: the decisions topic.
        model_poll_s: check the model alias at most this often (0: never).
        metrics: throughput and lag (default: on the service's metrics backend).
        feature_sample_rate: share of decisions published with their features.
    """

    def __init__(
        self,
        service: ScoringService,
        producer: EventProducer,
        topic: str,
        model_poll_s: float = 30.0,
        metrics: StreamScorerMetrics | None = None,
        feature_sample_rate: float = 0.0,
    ) -> None:
        self.service = service
        self.feature_sample_rate = feature_sample_rate
        self.producer = producer
        self.topic = topic
        self.model_poll_s = model_poll_s
        self.scored = 0
        self.metrics = metrics or service.metrics.stream
        self._next_poll = time.monotonic() + model_poll_s

    def __call__(self, batch: list[ConsumedEvent]) -> None:
        """Handle one micro-batch (raises to stop the loop without committing)."""
        if self.model_poll_s and time.monotonic() >= self._next_poll:
            self.service.refresh_alias()
            self._next_poll = time.monotonic() + self.model_poll_s
        txns = _unique([e.event for e in batch if isinstance(e.event, Transaction)])
        if not txns:
            return
        start = time.perf_counter()
        results = self.service.score(txns)
        now = datetime.now(UTC)
        for result in results:
            self.producer.send(
                self.topic,
                result.card_token,
                decision_json(result, now, feature_sample_rate=self.feature_sample_rate),
                headers=[(DECISION_ID_HEADER, result.decision_id)],
            )
        self.producer.flush()  # BrokerError here: no commit, the batch comes again
        self.scored += len(results)
        newest = max(t.event_time for t in txns).timestamp()
        self.metrics.batch(len(results), time.perf_counter() - start, newest)


def _unique(txns: Sequence[Transaction]) -> list[Transaction]:
    """Drop repeated transaction ids inside one batch (redelivery, replays)."""
    seen: dict[str, Transaction] = {}
    for txn in txns:
        seen.setdefault(txn.transaction_id, txn)
    return list(seen.values())


def run_stream_scorer(
    settings: Settings,
    stop_event: threading.Event | None = None,
    *,
    config: ScoringConfig | None = None,
    service: ScoringService | None = None,
    max_events: int | None = None,
    idle_timeout: float | None = None,
    consumer_config: dict[str, object] | None = None,
) -> ConsumerStats:
    """Score the transactions topic until stopped.

    Args:
        settings: FraudLens settings (``kafka``, ``serve``, the model registry;
            ``metrics.port`` > 0 serves the service's metrics there).
        stop_event: stops the loop between batches when set.
        config: scoring config (default: ``serve.model_alias`` and the rules file).
        service: a ready service (tests); default one built from settings.
        max_events: stop after this many messages.
        idle_timeout: stop after this many seconds without messages.
        consumer_config: librdkafka overrides for the consumer.

    Returns:
        The consumer's counters.
    """
    owned = service is None
    if service is None:
        single_threaded_numerics()
        service = build_service(settings, "stream", in_process_shadow=True, feature_timeout_s=5.0)
    if not service.ready:
        service.apply_config(config or default_config(settings))
        if owned:
            service.warm_up()  # before consuming: the first batch must not meet a cold store
            freeze_heap()
    producer = EventProducer(settings.kafka)
    scorer = StreamScorer(
        service,
        producer,
        settings.kafka.decisions_topic,
        settings.serve.model_poll_s,
        feature_sample_rate=settings.records.feature_sample_rate,
    )
    registry = service.metrics.registry  # None under Ray: Ray exports the metrics
    stop_metrics = None
    started = time.perf_counter()
    try:
        if registry is not None:
            stop_metrics = start_metrics_server(
                settings.metrics.port, registry, settings.metrics.host
            )
        with EventConsumer(
            settings.kafka,
            [settings.kafka.transactions_topic],
            scorer,
            validation=settings.validation,
            group_id=settings.serve.stream_group,
            batch_size=settings.serve.stream_batch_size,
            config=consumer_config,
        ) as consumer:
            stats = consumer.run(stop=stop_event, max_events=max_events, idle_timeout=idle_timeout)
    finally:
        if stop_metrics is not None:
            stop_metrics()
        producer.close()
        if owned:
            service.close()
    seconds = time.perf_counter() - started
    logger.info(
        "stream scorer: %d transactions scored in %.1f s (%.0f/s)",
        scorer.scored,
        seconds,
        scorer.scored / seconds if seconds else 0.0,
    )
    return stats
