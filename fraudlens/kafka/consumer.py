"""At-least-once consumer loop for FraudLens events.

Each batch goes through the same steps::

    consume(batch) -> decode + validate each message
                   -> invalid ones to the dead-letter topic (original bytes, reason in headers)
                   -> handler(valid events)
                   -> flush the dead-letter producer
                   -> commit the batch's offsets (synchronously)

Offsets are committed only after the handler has returned and the dead-letter
messages are acknowledged, so a crash anywhere before the commit means the
batch is delivered again (to this or another group member): events may be
processed twice, never lost. Handlers must therefore be idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from fraudlens.errors import BrokerError, ConfigError, ValidationError
from fraudlens.kafka.producer import EventProducer
from fraudlens.schema import Label, Transaction, parse_label, parse_transaction
from fraudlens.settings import KafkaSettings, ValidationSettings

logger = logging.getLogger(__name__)

Event = Transaction | Label
Decoder = Callable[[bytes | None, datetime], Event]

# Kafka's pre-3.0 session timeout. Shorter than librdkafka's 45 s so a crashed
# member is replaced sooner (and Tansu, which holds a join for about half the
# session timeout, forms groups in ~5 s instead of ~23 s).
CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 2_000,
    "fetch.wait.max.ms": 100,
}

# Commit failures that only mean "the group rebalanced under us": the batch
# will be redelivered to the new owner, which at-least-once allows.
_REBALANCE_ERRORS = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError._NO_OFFSET,
        KafkaError._ASSIGNMENT_LOST,
        KafkaError._STATE,
    }
)

# librdkafka's own log lines go through logging (served by consume()).
_CLIENT_LOG = logging.getLogger("fraudlens.kafka.librdkafka")

HEADER_PREFIX = "fraudlens."
_MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class ConsumedEvent:
    """A validated event and where it was read from."""

    event: Event
    topic: str
    partition: int
    offset: int


Handler = Callable[[list[ConsumedEvent]], None]


@dataclass(slots=True)
class ConsumerStats:
    """Counters of one consumer (for logs and Prometheus).

    Attributes:
        consumed: messages received (valid and invalid).
        processed: valid events whose handler call returned.
        dead_lettered: invalid messages acknowledged on the dead-letter topic.
        batches: handler calls.
        commits: successful offset commits.
        commit_failures: commits lost to a rebalance (the batch is redelivered).
    """

    consumed: int = 0
    processed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    commits: int = 0
    commit_failures: int = 0


def _position(msg: Message) -> tuple[str, int, int]:
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or partition is None or offset is None:  # only on error messages
        raise BrokerError("a consumed message has no topic, partition or offset")
    return topic, partition, offset


def dead_letter_headers(
    topic: str,
    partition: int,
    offset: int,
    error: ValidationError,
    *,
    failed_at: datetime | None = None,
) -> list[tuple[str, bytes]]:
    """Headers of a dead-letter message: where it came from and why it was refused.

    The reason comes from the schema's messages, which name the field and the
    rule, never a card number.
    """
    when = (failed_at or datetime.now(UTC)).isoformat()
    return [
        (f"{HEADER_PREFIX}source_topic", topic.encode()),
        (f"{HEADER_PREFIX}source_partition", str(partition).encode()),
        (f"{HEADER_PREFIX}source_offset", str(offset).encode()),
        (f"{HEADER_PREFIX}error_field", error.field.encode()),
        (f"{HEADER_PREFIX}error_reason", error.reason[:_MAX_REASON].encode()),
        (f"{HEADER_PREFIX}failed_at", when.encode()),
    ]


def default_decoders(
    kafka: KafkaSettings, validation: ValidationSettings | None = None
) -> dict[str, Decoder]:
    """Decoders by topic: ``parse_transaction`` for transactions, ``parse_label`` for labels."""
    limits = validation or ValidationSettings.model_validate({})

    def _transaction(raw: bytes | None, now: datetime) -> Event:
        if raw is None:
            raise ValidationError("$", "empty message")
        return parse_transaction(
            raw,
            max_amount=limits.max_amount,
            max_future_seconds=limits.max_future_seconds,
            now=now,
        )

    def _label(raw: bytes | None, now: datetime) -> Event:
        if raw is None:
            raise ValidationError("$", "empty message")
        return parse_label(raw, max_future_seconds=limits.max_future_seconds, now=now)

    return {kafka.transactions_topic: _transaction, kafka.labels_topic: _label}


class EventConsumer:
    """A consumer-group member that validates, dead-letters, handles and commits.

    Args:
        kafka: connection settings and topic names.
        topics: topics to subscribe to; each needs a decoder.
        handler: called with each batch of valid events; offsets are committed
            after it returns. If it raises, nothing is committed and the error
            propagates (the batch is redelivered after a restart or rebalance).
        validation: limits for the schema checks.
        group_id: consumer group; ``kafka.consumer_group`` by default.
        batch_size: most messages handled per batch.
        poll_timeout: seconds one poll waits for messages.
        config: librdkafka overrides applied over ``CONSUMER_DEFAULTS``.
        dead_letter_producer: producer for invalid messages; one is created on
            first need (and closed by ``close()``) when not given.
        decoders: decoders by topic; ``default_decoders`` by default.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        topics: Sequence[str],
        handler: Handler,
        *,
        validation: ValidationSettings | None = None,
        group_id: str | None = None,
        batch_size: int = 1000,
        poll_timeout: float = 0.5,
        config: Mapping[str, Any] | None = None,
        dead_letter_producer: EventProducer | None = None,
        decoders: Mapping[str, Decoder] | None = None,
    ) -> None:
        if not topics:
            raise ConfigError("an EventConsumer needs at least one topic")
        if batch_size < 1:
            raise ConfigError("batch_size must be at least 1")
        self._decoders = dict(decoders or default_decoders(kafka, validation))
        missing = [topic for topic in topics if topic not in self._decoders]
        if missing:
            raise ConfigError(f"no decoder for topic(s) {missing}")
        self.kafka = kafka
        self.topics = list(topics)
        self.handler = handler
        self.group_id = group_id or kafka.consumer_group
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self._dlq = dead_letter_producer
        self._owns_dlq = dead_letter_producer is None
        self._stats = ConsumerStats()
        self._assigned_at: float | None = None
        self._closed = False
        conf: dict[str, Any] = {
            **kafka.client_config(),
            **CONSUMER_DEFAULTS,
            "group.id": self.group_id,
            "error_cb": self._on_error,
            "logger": _CLIENT_LOG,
            **(config or {}),
        }
        try:
            self._consumer = Consumer(conf)
            self._consumer.subscribe(
                self.topics,
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
        except KafkaException as exc:
            raise BrokerError(f"cannot create a Kafka consumer: {exc}") from exc

    @property
    def stats(self) -> ConsumerStats:
        """A snapshot of the counters."""
        return replace(self._stats)

    # -- group membership callbacks (run inside consume()) -------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned_at = time.monotonic()
        logger.info(
            "group %s assigned %s", self.group_id, [(p.topic, p.partition) for p in partitions]
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Every batch is committed before the next poll, so there is nothing to flush here.
        logger.info(
            "group %s revoked %s", self.group_id, [(p.topic, p.partition) for p in partitions]
        )

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        logger.warning(
            "group %s lost %s", self.group_id, [(p.topic, p.partition) for p in partitions]
        )

    def _on_error(self, err: KafkaError) -> None:
        logger.warning("consumer error in group %s: %s", self.group_id, err.str())

    # -- the loop -------------------------------------------------------------

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        max_events: int | None = None,
        idle_timeout: float | None = None,
    ) -> ConsumerStats:
        """Consume until stopped.

        Args:
            stop: stops the loop between batches when set.
            max_events: stop after this many messages (valid or not) were handled.
            idle_timeout: stop when no message arrived for this many seconds,
                counted from the latest partition assignment or message (the
                group join itself does not count).

        Returns:
            The counters after the loop.

        Raises:
            BrokerError: consuming, dead-lettering or committing failed.
            Exception: whatever the handler raised (nothing was committed).
        """
        if self._closed:
            raise BrokerError("the consumer is closed")
        last_message = time.monotonic()
        while not (stop is not None and stop.is_set()):
            wanted = self.batch_size
            if max_events is not None:
                wanted = min(wanted, max_events - self._stats.consumed)
                if wanted <= 0:
                    break
            try:
                messages = self._consumer.consume(wanted, self.poll_timeout)
            except KafkaException as exc:
                raise BrokerError(f"consume failed in group {self.group_id}: {exc}") from exc
            if messages:
                last_message = time.monotonic()
                self._handle_batch(messages)
            elif idle_timeout is not None:
                since = max(last_message, self._assigned_at or last_message)
                if self._assigned_at is not None and time.monotonic() - since >= idle_timeout:
                    logger.info("group %s idle for %.1f s; stopping", self.group_id, idle_timeout)
                    break
        return self.stats

    def _handle_batch(self, messages: list[Message]) -> None:
        now = datetime.now(UTC)
        valid: list[ConsumedEvent] = []
        next_offsets: dict[tuple[str, int], int] = {}
        dead = 0
        for msg in messages:
            err = msg.error()
            if err is not None:
                self._message_error(err)
                continue
            topic, partition, offset = _position(msg)
            next_offsets[(topic, partition)] = offset + 1
            self._stats.consumed += 1
            try:
                event = self._decoders[topic](msg.value(), now)
            except ValidationError as exc:
                self._dead_letter(msg, exc)
                dead += 1
                continue
            valid.append(ConsumedEvent(event, topic, partition, offset))
        if valid:
            self.handler(valid)
            self._stats.processed += len(valid)
            self._stats.batches += 1
        if dead:
            assert self._dlq is not None
            self._dlq.flush()  # raises BrokerError: then no commit, the batch comes again
            self._stats.dead_lettered += dead
        if next_offsets:
            self._commit(next_offsets)

    def _message_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._PARTITION_EOF:
            return
        if err.fatal():
            raise BrokerError(f"fatal consumer error in group {self.group_id}: {err.str()}")
        logger.warning("consumer message error in group %s: %s", self.group_id, err.str())

    def _dead_letter(self, msg: Message, error: ValidationError) -> None:
        topic, partition, offset = _position(msg)
        logger.warning(
            "dead-lettering %s[%d]@%d: %s: %s",
            topic,
            partition,
            offset,
            error.field,
            error.reason,
        )
        if self._dlq is None:
            self._dlq = EventProducer(self.kafka)
        self._dlq.send(
            self.kafka.dead_letter_topic,
            msg.key(),
            msg.value(),
            headers=dead_letter_headers(topic, partition, offset, error),
        )

    def _commit(self, next_offsets: dict[tuple[str, int], int]) -> None:
        offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
        try:
            result = self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() in _REBALANCE_ERRORS:
                self._stats.commit_failures += 1
                logger.warning(
                    "commit in group %s lost to a rebalance (%s); the batch will be redelivered",
                    self.group_id,
                    error.str(),
                )
                return
            raise BrokerError(f"commit failed in group {self.group_id}: {exc}") from exc
        failed = [tp for tp in result or [] if tp.error is not None]
        if failed:
            self._stats.commit_failures += 1
            logger.warning(
                "commit in group %s failed for %s; those messages will be redelivered",
                self.group_id,
                [(tp.topic, tp.partition, str(tp.error)) for tp in failed],
            )
            return
        self._stats.commits += 1

    # -- lifecycle ------------------------------------------------------------

    def close(self) -> None:
        """Leave the group and release the consumer (uncommitted work is redelivered).

        Safe to call more than once.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as exc:
            raise BrokerError(f"closing the consumer of group {self.group_id} failed") from exc
        finally:
            if self._owns_dlq and self._dlq is not None:
                self._dlq.close()
        logger.info(
            "consumer of group %s closed: %d processed, %d dead-lettered",
            self.group_id,
            self._stats.processed,
            self._stats.dead_lettered,
        )

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
            return
        try:  # already failing: close, but do not mask the original error
            self.close()
        except BrokerError as close_error:
            logger.error("closing after an error failed: %s", close_error)


def consume(
    kafka: KafkaSettings,
    topics: Sequence[str],
    handler: Handler,
    *,
    validation: ValidationSettings | None = None,
    group_id: str | None = None,
    stop: threading.Event | None = None,
    max_events: int | None = None,
    idle_timeout: float | None = None,
    batch_size: int = 1000,
    config: Mapping[str, Any] | None = None,
) -> ConsumerStats:
    """Run an ``EventConsumer`` until stopped, then close it.

    See ``EventConsumer`` and ``EventConsumer.run`` for the arguments.

    Returns:
        The consumer's counters.
    """
    with EventConsumer(
        kafka,
        topics,
        handler,
        validation=validation,
        group_id=group_id,
        batch_size=batch_size,
        config=config,
    ) as consumer:
        return consumer.run(stop=stop, max_events=max_events, idle_timeout=idle_timeout)
