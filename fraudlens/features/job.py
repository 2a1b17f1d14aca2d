"""The stream feature job's consumer loop (see ``fraudlens.features.stream``)."""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from fraudlens.errors import BrokerError, ValidationError
from fraudlens.features.checkpoint import Checkpointer
from fraudlens.features.deadletter import DeadLetters
from fraudlens.features.events import JobStats, to_event
from fraudlens.features.fold import Event, FoldResult, StateFolder
from fraudlens.features.metrics import StreamMetrics, observe_consumer_lag
from fraudlens.features.reorder import Partition, Reorderer
from fraudlens.features.replay import ReplayTracker
from fraudlens.features.repo import offline_path
from fraudlens.features.sink import FeastSink
from fraudlens.features.snapshots import open_snapshot_store
from fraudlens.features.state import US_PER_DAY, US_PER_SECOND, TxnEvent
from fraudlens.kafka import CONSUMER_DEFAULTS, default_decoders
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

Role = Literal["all", "card", "terminal"]
BatchCallback = Callable[[list[TxnEvent]], None]


class StreamFeatureJob:
    """A consumer-group member that keeps entity state and pushes it to Feast.

    Args:
        settings: FraudLens settings (Kafka, Feast, validation).
        store: a ``feast.FeatureStore`` with the repo applied.
        group_id: consumer group; ``<kafka.consumer_group>-features`` by default.
        role: "all" (default), "card" (transactions, card state only) or
            "terminal" (transactions + labels, terminal state only).
        batch_size: most messages read per poll.
        idle_seconds: a partition silent this long stops holding the watermark.
        metrics: Prometheus metrics (a fresh registry by default).
        on_batch: called after each micro-batch is pushed, with its transactions.
        consumer_config: librdkafka overrides.
        offline: also write state rows to the offline Parquet folder.
        from_snapshot: restore the newest state snapshot on start (when
            ``checkpoint.enabled``; see ``fraudlens.features.checkpoint``).
    """

    def __init__(
        self,
        settings: Settings,
        store: Any,
        *,
        group_id: str | None = None,
        role: Role = "all",
        batch_size: int = 5000,
        idle_seconds: float = 2.0,
        metrics: StreamMetrics | None = None,
        on_batch: BatchCallback | None = None,
        consumer_config: Mapping[str, Any] | None = None,
        offline: bool = True,
        from_snapshot: bool = True,
    ) -> None:
        kafka = settings.kafka
        self.settings = settings
        self.role = role
        self.batch_size = batch_size
        self.metrics = metrics or StreamMetrics()
        self.on_batch = on_batch
        self.stats = JobStats()
        self.folder = StateFolder(
            settings.feast.max_label_delay_days * US_PER_DAY,
            settings.features.encoder_cache_entities,
            matured_delay_days=settings.features.matured_delay_days,
        )
        self.sink = FeastSink(
            store,
            offline_path(settings) if offline else None,
            f"stream-{uuid.uuid4().hex[:8]}",
            metrics=self.metrics,
        )
        self._reorder: Reorderer[tuple[Event, bool]] = Reorderer(idle_seconds)
        self._decoders = default_decoders(kafka, settings.validation)
        self._replay = ReplayTracker()
        self._committed: dict[Partition, int] = {}
        self._dlq = DeadLetters(kafka)
        self._lag_checked = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._seen = (0, 0)
        self._assigned_at: float | None = None
        topics = [kafka.transactions_topic]
        if role != "card":
            topics.append(kafka.labels_topic)
        conf = {
            **kafka.client_config(),
            **CONSUMER_DEFAULTS,
            "group.id": group_id or f"{kafka.consumer_group}-features",
            **(consumer_config or {}),
        }
        self._checkpoints = (
            Checkpointer(
                settings.checkpoint,
                open_snapshot_store(settings),
                group_id=str(conf["group.id"]),
                role=role,
                load=from_snapshot,
            )
            if settings.checkpoint.enabled
            else None
        )
        try:
            self._consumer = Consumer(conf)
            self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        except KafkaException as exc:
            raise BrokerError(f"cannot create the feature job's consumer: {exc}") from exc

    # -- group callbacks -------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        committed = consumer.committed(partitions, timeout=30)
        for tp in committed:
            self._replay.assigned([((tp.topic, tp.partition), tp.offset)])
        parts = [(tp.topic, tp.partition) for tp in partitions]
        starts: dict[Partition, int] = {}
        watermark = None
        if self._checkpoints is not None:
            starts, watermark = self._checkpoints.assign(consumer, self.folder, parts)
            if watermark is not None:  # restored: counters go on from the snapshot's
                self._reorder.released_watermark_us = watermark
                self._seen = (self.folder.duplicates, self.folder.ignored_labels)
                # Push the restored state once (after any replay), so an online
                # store that lost data heals as after a full replay.
                if self.role != "terminal":
                    self._replay.cards.update(self.folder.cards)
                if self.role != "card":
                    self._replay.terminals.update(self.folder.terminals)
        for tp in partitions:
            # the snapshot's offsets, else rebuild state from the start of retention
            tp.offset = starts.get((tp.topic, tp.partition), OFFSET_BEGINNING)
        consumer.assign(partitions)
        self._assigned_at = time.monotonic()
        self._reorder.assign([(tp.topic, tp.partition) for tp in partitions], time.monotonic())
        logger.info(
            "feature job assigned %d partitions (from %s)",
            len(partitions),
            "a state snapshot" if watermark is not None else "the start",
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        parts = [(tp.topic, tp.partition) for tp in partitions]
        self._reorder.forget(parts)
        self._replay.revoked(parts)
        if self._checkpoints is not None:
            self._checkpoints.revoke(parts)
        for part in parts:
            self._committed.pop(part, None)
        logger.info("feature job revoked %d partitions", len(parts))

    # -- the loop --------------------------------------------------------------

    def run(
        self, stop: threading.Event | None = None, *, idle_timeout: float | None = None
    ) -> JobStats:
        """Consume until ``stop`` is set, or nothing arrived for ``idle_timeout`` s
        after the partitions were assigned. Serves ``/metrics`` meanwhile when
        ``metrics.port`` > 0.

        Raises:
            BrokerError: consuming, dead-lettering or committing failed.
            FeatureStoreError: a push failed (offsets stay uncommitted).
            ConfigError: ``metrics.port`` cannot be bound.
        """
        from fraudlens.scoring.metrics import start_metrics_server  # not at import: no cycle

        metrics = self.settings.metrics
        stop_metrics = start_metrics_server(metrics.port, self.metrics.registry, metrics.host)
        started = time.monotonic()
        # The fold allocates many short-lived lists; with the default gen-0
        # threshold (700) cyclic collections cost more than the fold itself.
        thresholds = gc.get_threshold()
        gc.set_threshold(50_000, 20, 100)
        try:
            self._loop(stop, idle_timeout, started)
            self._checkpoint(time.monotonic(), final=True)
            self._commit()
        finally:
            gc.set_threshold(*thresholds)
            stop_metrics()
        self.stats.seconds = time.monotonic() - started
        self.stats.late = self._reorder.late
        return self.stats

    def _loop(
        self, stop: threading.Event | None, idle_timeout: float | None, started: float
    ) -> None:
        last_message = started
        while not (stop is not None and stop.is_set()):
            try:
                messages = self._consumer.consume(self.batch_size, 0.1)
            except KafkaException as exc:
                raise BrokerError(f"feature job consume failed: {exc}") from exc
            now = time.monotonic()
            self._reorder.polled(drained=len(messages) < self.batch_size)
            if messages:
                last_message = now
                if self.stats.first_message_at is None:
                    self.stats.first_message_at = now
                self._read(messages, now)
            self._apply(self._reorder.release(now))
            self._dlq.flush()  # BrokerError: no commit, the messages come again
            self._checkpoint(now)  # snapshot first, then commit the same offsets
            self._commit()
            self._observe(now)
            if (
                idle_timeout is not None
                and self._assigned_at is not None  # joining the group does not count
                and now - max(last_message, self._assigned_at) >= idle_timeout
                and not len(self._reorder)
            ):
                break

    def _read(self, messages: list[Any], now: float) -> None:
        t0 = time.perf_counter()
        wall = datetime.now(UTC)
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF and err.fatal():
                    raise BrokerError(f"fatal consumer error: {err.str()}")
                continue
            part: Partition = (msg.topic(), msg.partition())
            offset = msg.offset()
            self.stats.consumed += 1
            try:
                raw = msg.value()
                if raw is None:
                    raise ValidationError("$", "empty message")
                event = to_event(self._decoders[part[0]](raw, wall))
            except ValidationError as exc:
                self._dlq.send(msg, exc)
                self.stats.dead_lettered += 1
                self.metrics.dead_letters.labels(part[0]).inc()
                self._reorder.skip(part, offset, now)
                continue
            self.metrics.events.labels(part[0]).inc()
            replay = self._replay.is_replay(part, offset)
            self._reorder.add(part, offset, event.time_us, (event, replay), now)
        self.stats.read_seconds += time.perf_counter() - t0

    def _apply(self, released: list[tuple[Event, bool]]) -> None:
        if not released:
            self.metrics.buffered.set(len(self._reorder))
            self._push_replayed()
            return
        run: list[Event] = []
        replay = released[0][1]
        for event, is_replay in released:
            if is_replay != replay:
                self._apply_run(run, replay)
                run, replay = [], is_replay
            run.append(event)
        self._apply_run(run, replay)
        self.metrics.buffered.set(len(self._reorder))
        last = released[-1][0].time_us
        self.metrics.watermark_lag.set(time.time() - last / US_PER_SECOND)
        self._push_replayed()

    def _push_replayed(self) -> None:
        finished = self._replay.take_finished()
        if finished is not None:
            self._push_touched(*finished)

    def _apply_run(self, events: list[Event], replay: bool) -> None:
        t0 = time.perf_counter()
        if self.role == "card":
            events = [e for e in events if isinstance(e, TxnEvent)]
        result = self.folder.apply(events)
        self.stats.fold_seconds += time.perf_counter() - t0
        if self.role != "all":
            # A feature row needs both states at the transaction's time: only
            # a job that folds both writes per-transaction rows.
            result.transactions = []
        if self.role == "card":
            result.terminal_rows = []
        elif self.role == "terminal":
            result.card_rows = []
        self.stats.applied += len(events)
        if replay:
            self.stats.replayed += len(events)
            self._replay.replayed(result)
            self._replay.advance(self._reorder.commit_offsets())
            return
        counts = self.sink.write(result)
        self.stats.offline_seconds += self.sink.last_offline_seconds
        self.stats.push_seconds += self.sink.last_push_seconds
        for view, (offline_rows, pushed) in counts.items():
            self.metrics.rows_offline.labels(view).inc(offline_rows)
            self.metrics.rows_pushed.labels(view).inc(pushed)
            self.stats.rows_offline += offline_rows
            self.stats.rows_pushed += pushed
        self.stats.batches += 1
        self.stats.last_batch_at = time.monotonic()
        self.metrics.batch_seconds.observe(time.perf_counter() - t0)
        self._replay.advance(self._reorder.commit_offsets())
        if self.on_batch is not None:
            self.on_batch([e for e in events if isinstance(e, TxnEvent)])

    def _push_touched(self, cards: set[str], terminals: set[str]) -> None:
        result = FoldResult(
            card_rows=self.folder.card_rows(cards),
            terminal_rows=self.folder.terminal_rows(terminals),
        )
        counts = self.sink.write(result, offline=False)
        logger.info(
            "replay done: pushed the state of %d cards, %d terminals", len(cards), len(terminals)
        )
        self.stats.rows_pushed += sum(pushed for _, pushed in counts.values())

    # -- side outputs ------------------------------------------------------------

    def _checkpoint(self, now: float, *, final: bool = False) -> None:
        cp = self._checkpoints
        if cp is None or self._replay.replaying:
            return  # a snapshot mid-replay would miss the touched entities' push
        cp.advance(self._reorder.commit_offsets())
        if cp.due(self.stats.applied, now, final=final):
            cp.save(self.folder, self._reorder.released_watermark_us, self.stats.applied, now)

    def _commit(self) -> None:
        # Never move a commit back while replaying below the old one.
        offsets = {
            p: o
            for p, o in self._reorder.commit_offsets().items()
            if self._committed.get(p) != o and not self._replay.is_replay(p, o)
        }
        if not offsets:
            return
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            self._consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as exc:
            logger.warning("feature job commit failed (will retry): %s", exc)
            return
        self._committed.update(offsets)

    def _observe(self, now: float) -> None:
        mark_time, mark_applied = self._rate_mark
        if now - mark_time >= 5.0:
            self.metrics.throughput.set((self.stats.applied - mark_applied) / (now - mark_time))
            self._rate_mark = (now, self.stats.applied)
        self.metrics.late_events.inc(self._reorder.late - self.stats.late)
        self.stats.late = self._reorder.late
        self.metrics.duplicates.inc(self.folder.duplicates - self._seen[0])
        self.metrics.ignored_labels.inc(self.folder.ignored_labels - self._seen[1])
        self._seen = (self.folder.duplicates, self.folder.ignored_labels)
        if now - self._lag_checked >= 15.0:
            self._lag_checked = now
            observe_consumer_lag(self._consumer, self.metrics)
            logger.info(
                "feature job: %d consumed, %d applied, %d buffered, %d late, watermark %s",
                self.stats.consumed,
                self.stats.applied,
                len(self._reorder),
                self._reorder.late,
                _as_time(self._reorder.watermark(now)),
            )

    def close(self) -> None:
        """Leave the group and close the dead-letter producer."""
        try:
            self._consumer.close()
        finally:
            self._dlq.close()


def _as_time(us: int | None) -> str | None:
    """An event-time watermark (epoch microseconds) as ISO-8601 UTC, for logs."""
    return None if us is None else datetime.fromtimestamp(us / US_PER_SECOND, UTC).isoformat()
