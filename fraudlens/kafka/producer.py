"""An idempotent, throughput-tuned Kafka producer for FraudLens events.

Events are keyed so that one card's transactions stay in one partition, in
order (``card_token``); labels are keyed by ``transaction_id``. Delivery
failures are collected by the delivery callback and raised from ``flush()``:
nothing is dropped silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import BaseModel

from fraudlens.errors import BrokerError
from fraudlens.schema import Label, Transaction, to_json
from fraudlens.settings import KafkaSettings

logger = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes | str]]

# Idempotence implies acks=all and at most 5 requests in flight per connection,
# which keeps per-partition order across retries. Lingering a few milliseconds
# fills large compressed batches: the main lever for throughput.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 10,
    "batch.size": 1_000_000,
    "batch.num.messages": 10_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 1_048_576,
}

_MAX_ERRORS_KEPT = 20
_POLL_EVERY = 64
# librdkafka's own log lines go through logging (served by poll/flush).
_CLIENT_LOG = logging.getLogger("fraudlens.kafka.librdkafka")


def event_key(event: BaseModel) -> str:
    """Return the partitioning key of an event.

    Transactions are keyed by ``card_token`` (one card's events stay ordered in
    one partition), labels by ``transaction_id``.

    Raises:
        TypeError: the event is neither a Transaction nor a Label.
    """
    if isinstance(event, Transaction):
        return event.card_token
    if isinstance(event, Label):
        return event.transaction_id
    raise TypeError(f"no default key for {type(event).__name__}; pass key=")


class EventProducer:
    """Publishes events to Kafka; a thin, safe wrapper over ``confluent_kafka.Producer``.

    Args:
        kafka: connection settings.
        config: librdkafka overrides applied over ``PRODUCER_DEFAULTS``.
        buffer_timeout: seconds ``send`` waits for room in a full local queue
            before giving up with ``BrokerError``.

    Use it as a context manager, or call ``flush()`` (raises on delivery
    failures) and then ``close()``.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        config: Mapping[str, Any] | None = None,
        buffer_timeout: float = 60.0,
    ) -> None:
        conf: dict[str, Any] = {
            **kafka.client_config(),
            **PRODUCER_DEFAULTS,
            "error_cb": self._on_error,
            "logger": _CLIENT_LOG,
            **(config or {}),
        }
        self.buffer_timeout = buffer_timeout
        self._lock = threading.Lock()
        self._errors: list[str] = []
        self._failed = 0
        self._unreported = 0
        self._delivered = 0
        self._sent = 0
        self._fatal: str | None = None
        self._closed = False
        try:
            self._producer = Producer(conf)
        except KafkaException as exc:
            raise BrokerError(f"cannot create a Kafka producer: {exc}") from exc

    @property
    def sent(self) -> int:
        """Messages handed to the producer so far."""
        return self._sent

    @property
    def delivered(self) -> int:
        """Messages the broker acknowledged so far."""
        return self._delivered

    @property
    def failed(self) -> int:
        """Messages whose delivery failed so far."""
        return self._failed

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        # Runs inside poll()/flush() on the calling thread.
        if err is None:
            self._delivered += 1
            return
        with self._lock:
            self._failed += 1
            self._unreported += 1
            if len(self._errors) < _MAX_ERRORS_KEPT:
                self._errors.append(f"{msg.topic()}[{msg.partition()}]: {err.str()}")
        logger.error("delivery to %s failed: %s", msg.topic(), err.str())

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err.str()
            logger.error("fatal producer error: %s", err.str())
        else:
            logger.warning("producer error: %s", err.str())

    def send(
        self,
        topic: str,
        key: bytes | str | None,
        value: bytes | None,
        headers: Headers | None = None,
    ) -> None:
        """Queue one message; delivery is confirmed by ``flush()``.

        When the local queue is full, waits (serving delivery callbacks) until
        there is room, up to ``buffer_timeout`` seconds.

        Raises:
            BrokerError: the producer hit a fatal error, the queue stayed full,
                or librdkafka refused the message (e.g. too large).
        """
        if self._closed:
            raise BrokerError("the producer is closed")
        if self._fatal is not None:
            raise BrokerError(f"the producer hit a fatal error: {self._fatal}")
        deadline: float | None = None
        while True:
            try:
                if headers is None:
                    self._producer.produce(topic, value, key, on_delivery=self._on_delivery)
                else:
                    self._producer.produce(
                        topic, value, key, on_delivery=self._on_delivery, headers=list(headers)
                    )
                break
            except BufferError as exc:
                now = time.monotonic()
                deadline = deadline or now + self.buffer_timeout
                if now >= deadline:
                    raise BrokerError(
                        f"the producer queue stayed full for {self.buffer_timeout} s"
                    ) from exc
                self._producer.poll(0.05)
            except KafkaException as exc:
                raise BrokerError(f"cannot produce to {topic!r}: {exc}") from exc
        self._sent += 1
        if self._sent % _POLL_EVERY == 0:  # serve delivery callbacks without a call per message
            self._producer.poll(0)

    def send_event(self, topic: str, event: BaseModel, key: str | None = None) -> None:
        """Serialize an event (``schema.to_json``) and queue it.

        Args:
            topic: destination topic.
            event: a ``Transaction``, a ``Label`` or another model (then pass ``key``).
            key: partitioning key; by default ``event_key(event)``.
        """
        self.send(topic, key if key is not None else event_key(event), to_json(event))

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery callbacks; returns how many were served."""
        return int(self._producer.poll(timeout))

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until every queued message is delivered or failed.

        Raises:
            BrokerError: some messages failed (the collected errors are in the
                message and then cleared) or were still queued after ``timeout``.
        """
        if self._closed:
            raise BrokerError("the producer is closed")
        remaining = int(self._producer.flush(timeout))
        with self._lock:
            errors, self._errors = self._errors, []
            failed, self._unreported = self._unreported, 0
        if failed:
            raise BrokerError(f"{failed} message(s) were not delivered: " + "; ".join(errors))
        if remaining:
            raise BrokerError(f"{remaining} message(s) still queued after {timeout} s")
        if self._fatal is not None:
            raise BrokerError(f"the producer hit a fatal error: {self._fatal}")

    def close(self, timeout: float = 60.0) -> None:
        """Flush, then release the producer's connections. Safe to call more than once.

        Raises:
            BrokerError: as ``flush`` (the producer is released all the same).
        """
        if self._closed:
            return
        try:
            self.flush(timeout)
        finally:
            self._closed = True
            self._producer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            # Already failing: still try to deliver, but do not mask the error.
            try:
                self.close()
            except BrokerError as flush_error:
                logger.error("flush after an error failed: %s", flush_error)
