"""Dead-letter output of the stream feature job (same headers as ``fraudlens.kafka``)."""

from __future__ import annotations

import logging
from typing import Any

from fraudlens.errors import ValidationError
from fraudlens.kafka import EventProducer, dead_letter_headers
from fraudlens.settings import KafkaSettings

logger = logging.getLogger(__name__)


class DeadLetters:
    """Sends refused messages, untouched, to the dead-letter topic with the reason.

    The producer is created on first use; ``flush`` must succeed before the
    offsets of the refused messages are committed.
    """

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self._producer: EventProducer | None = None
        self._pending = False

    def send(self, msg: Any, error: ValidationError) -> None:
        """Queue one refused Kafka message (key and value as received)."""
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        logger.warning("dead-lettering %s[%d]@%d: %s", topic, partition, offset, error)
        if self._producer is None:
            self._producer = EventProducer(self.kafka)
        headers = dead_letter_headers(topic, partition, offset, error)
        self._producer.send(self.kafka.dead_letter_topic, msg.key(), msg.value(), headers)
        self._pending = True

    def flush(self) -> None:
        """Wait until queued dead letters are acknowledged (raises BrokerError)."""
        if self._producer is not None and self._pending:
            self._producer.flush()
            self._pending = False

    def close(self) -> None:
        """Flush and release the producer."""
        if self._producer is not None:
            self._producer.close()
            self._producer = None
