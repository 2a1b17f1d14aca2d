"""Publishing labels received by the API to the ``labels`` topic."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from fraudlens.schema import Label
from fraudlens.settings import KafkaSettings

logger = logging.getLogger(__name__)


class LabelPublisher(Protocol):
    """Makes labels durable on the labels topic (raises BrokerError / ConfigError)."""

    topic: str

    def publish(self, labels: Sequence[Label]) -> None: ...

    def close(self) -> None: ...


class KafkaLabelPublisher:
    """Publishes labels with the idempotent ``EventProducer``, waiting for the acks.

    The producer is created on first use, so a replica without a broker still
    starts (and answers 503 on ``/v1/labels`` only).

    Args:
        kafka: connection settings and topic names.
        timeout_s: how long one publish may wait for the broker.
    """

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 5.0) -> None:
        self.kafka = kafka
        self.topic = kafka.labels_topic
        self.timeout_s = timeout_s
        self._producer: object | None = None
        self._lock = threading.Lock()

    def publish(self, labels: Sequence[Label]) -> None:
        """Send and wait until every label is acknowledged.

        Raises:
            ConfigError: no broker is configured.
            BrokerError: the broker did not acknowledge in time.
        """
        from fraudlens.kafka.producer import EventProducer

        with self._lock:
            if self._producer is None:
                self._producer = EventProducer(self.kafka, buffer_timeout=self.timeout_s)
            producer = self._producer
            assert isinstance(producer, EventProducer)
            for label in labels:
                producer.send_event(self.topic, label)
            producer.flush(self.timeout_s)
        logger.info("published %d label(s) to %s", len(labels), self.topic)

    def close(self) -> None:
        """Flush and drop the producer."""
        from fraudlens.kafka.producer import EventProducer

        with self._lock:
            if isinstance(self._producer, EventProducer):
                self._producer.close(self.timeout_s)
            self._producer = None
