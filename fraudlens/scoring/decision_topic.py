"""Decision sinks beside the Parquet log: publish to the decisions topic, or fan out.

With ``records.decision_sink=kafka`` (or ``both``) the scoring API publishes
each decision to the decisions topic, in the stream scorer's format
(``DecisionEvent``), and ``fraudlens records sink`` stores it in PostgreSQL.
``write`` returns once the broker has acknowledged the batch (acks=all), so
a replica killed after answering has lost no decision; a batch the broker
does not acknowledge in time raises ``BrokerError`` (the API answers 503, not
a decision that was never recorded).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from fraudlens.kafka.producer import EventProducer
from fraudlens.scoring.result import ScoreResult
from fraudlens.scoring.service import DecisionSink
from fraudlens.scoring.stream import DECISION_ID_HEADER, decision_json

logger = logging.getLogger(__name__)


class KafkaDecisionSink:
    """Publishes every decision to the decisions topic, keyed by card token.

    Args:
        producer: an open producer (closed by ``close``).
        topic: the decisions topic.
        source: ``api`` or ``stream``, carried in each message.
        ack_timeout_s: how long ``write`` waits for the broker's acknowledgement.
        feature_sample_rate: share of decisions published with their features
            (``records.feature_sample_rate``).
    """

    def __init__(
        self,
        producer: EventProducer,
        topic: str,
        source: str = "api",
        ack_timeout_s: float = 5.0,
        feature_sample_rate: float = 0.0,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.source = source
        self.ack_timeout_s = ack_timeout_s
        self.feature_sample_rate = feature_sample_rate
        # One batch in flight at a time: a delivery error is then this batch's own.
        self._lock = threading.Lock()

    @property
    def failed(self) -> int:
        """Decisions whose delivery failed after librdkafka's retries."""
        return self.producer.failed

    def write(self, results: Sequence[ScoreResult]) -> None:
        """Publish one batch of decisions and wait for the broker's acknowledgement.

        Raises:
            BrokerError: the broker did not acknowledge every decision in time, or
                the producer hit a fatal error.
        """
        now = datetime.now(UTC)
        with self._lock:
            for result in results:
                self.producer.send(
                    self.topic,
                    result.card_token,
                    decision_json(result, now, self.source, self.feature_sample_rate),
                    headers=[(DECISION_ID_HEADER, result.decision_id)],
                )
            self.producer.flush(self.ack_timeout_s)

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
        close_all(self.sinks, "decision sink")


class Closable(Protocol):
    """Anything with a ``close()``."""

    def close(self) -> None: ...


def close_all(items: Sequence[Closable], kind: str) -> None:
    """Close every item, even when one fails; the first error is raised after the others.

    Args:
        items: what to close, in order.
        kind: what they are, for the log (``decision sink``, ``shadow log``).
    """
    first: Exception | None = None
    for item in items:
        try:
            item.close()
        except Exception as exc:  # close the others before reporting it
            logger.error("closing %s %s failed: %s", kind, type(item).__name__, exc)
            first = first or exc
    if first is not None:
        raise first
