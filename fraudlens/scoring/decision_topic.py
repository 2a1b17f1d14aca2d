"""Decision sinks beside the Parquet log: publish to the decisions topic, or fan out.

With ``records.decision_sink=kafka`` (or ``both``) the scoring API publishes
each decision to the decisions topic, in the stream scorer's format
(``DecisionEvent``), and ``fraudlens records sink`` stores it in PostgreSQL.
``write`` queues the messages and returns (no wait in the request path);
librdkafka retries delivery, a final failure is logged and counted, and
``close`` waits for every message still queued.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from fraudlens.kafka.producer import EventProducer
from fraudlens.scoring.result import ScoreResult
from fraudlens.scoring.service import DecisionSink
from fraudlens.scoring.stream import DECISION_ID_HEADER, decision_event

logger = logging.getLogger(__name__)


class KafkaDecisionSink:
    """Publishes every decision to the decisions topic, keyed by card token.

    Args:
        producer: an open producer (closed by ``close``).
        topic: the decisions topic.
        source: ``api`` or ``stream``, carried in each message.
    """

    def __init__(self, producer: EventProducer, topic: str, source: str = "api") -> None:
        self.producer = producer
        self.topic = topic
        self.source = source

    @property
    def failed(self) -> int:
        """Decisions whose delivery failed after librdkafka's retries."""
        return self.producer.failed

    def write(self, results: Sequence[ScoreResult]) -> None:
        """Queue one batch of decisions.

        Raises:
            BrokerError: the producer's queue stayed full, or it hit a fatal error.
        """
        now = datetime.now(UTC)
        for result in results:
            event = decision_event(result, now, source=self.source)
            self.producer.send(
                self.topic,
                result.card_token,
                event.model_dump_json().encode(),
                headers=[(DECISION_ID_HEADER, result.decision_id)],
            )
        self.producer.poll(0)  # serve delivery callbacks without waiting

    def close(self) -> None:
        """Wait until every queued decision is delivered, then release the producer.

        Raises:
            BrokerError: some decisions were not delivered (they are named in the error).
        """
        self.producer.close()


class FanOutSink:
    """Writes every batch to several sinks, in order (e.g. Parquet log and topic)."""

    def __init__(self, sinks: Sequence[DecisionSink]) -> None:
        self.sinks = list(sinks)

    def write(self, results: Sequence[ScoreResult]) -> None:
        """Write the batch to each sink."""
        for sink in self.sinks:
            sink.write(results)

    def close(self) -> None:
        """Close every sink, even when one fails (the first error is raised)."""
        first: Exception | None = None
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # close the others before reporting it
                logger.error("closing decision sink %s failed: %s", type(sink).__name__, exc)
                first = first or exc
        if first is not None:
            raise first
