"""Kafka throughput on the embedded broker: replay, then consume with decode + validate.

Run: ``.venv/bin/python -m benchmarks.bench_kafka [--events N]``. Starts the
embedded broker (logs in a temporary folder removed afterwards), simulates
about N transactions, replays them as fast as possible (idempotent producer,
acks=all) and reads them back with the at-least-once consumer (JSON decode,
schema validation, per-batch commit).
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd

from fraudlens.kafka import (
    ConsumedEvent,
    EmbeddedBroker,
    EventConsumer,
    EventProducer,
    encode_events,
    ensure_topics,
    replay,
)
from fraudlens.schema import Transaction
from fraudlens.security import Tokenizer
from fraudlens.settings import KafkaSettings
from fraudlens.simulator import SimulatorConfig, customers_for_rows, simulate


def simulated_transactions(events: int, days: int = 30, seed: int = 7) -> pd.DataFrame:
    """About ``events`` simulated transactions (with ground-truth columns), cut to ``events``."""
    customers = customers_for_rows(int(events * 1.05) + 100, days)  # sizing is approximate
    config = SimulatorConfig(
        customers=customers, terminals=max(2_000, customers // 3), days=days, seed=seed
    )
    # Throwaway key: tokens from this run cannot be linked to any other run.
    tokenizer = Tokenizer("bench", {"bench": secrets.token_bytes(32)})
    return simulate(config, tokenizer).transactions.head(events)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Replay ``--events`` transactions and consume them back; print events/s.

    Returns:
        The measured figures.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="events to replay")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the topic")
    parser.add_argument("--batch-size", type=int, default=1_000, help="consumer batch size")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed")
    args = parser.parse_args(argv)

    frame = simulated_transactions(args.events, seed=args.seed)
    events = len(frame)
    started = time.perf_counter()
    encode_events(frame, Transaction)
    encode_rate = events / (time.perf_counter() - started)

    with (
        tempfile.TemporaryDirectory(prefix="fraudlens-bench-kafka-") as tmp,
        EmbeddedBroker(Path(tmp)) as broker,
    ):
        kafka = KafkaSettings(
            bootstrap_servers=broker.bootstrap_servers,
            partitions=args.partitions,
            consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
        )
        ensure_topics(kafka)
        with EventProducer(kafka) as producer:
            produced = replay(frame, producer, kafka.transactions_topic)

        first_batch_at: float | None = None
        first_batch = 0

        def handle(batch: list[ConsumedEvent]) -> None:
            nonlocal first_batch_at, first_batch
            if first_batch_at is None:
                first_batch_at, first_batch = time.perf_counter(), len(batch)

        started = time.perf_counter()
        with EventConsumer(
            kafka,
            [kafka.transactions_topic],
            handle,
            batch_size=args.batch_size,
            # Tansu answers a join after half the session timeout: keep it short.
            config={"session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000},
        ) as consumer:
            stats = consumer.run(max_events=events, idle_timeout=10.0)
        ended = time.perf_counter()

    assert first_batch_at is not None, "nothing was consumed"
    join_seconds = first_batch_at - started
    consume_rate = (stats.processed - first_batch) / (ended - first_batch_at)
    print(f"events:   {events:,} simulated transactions, {args.partitions} partitions")
    print(f"encode:   {encode_rate:,.0f} events/s (JSON building alone)")
    print(
        f"produce:  {produced.rate:,.0f} events/s ({produced.events:,} in {produced.seconds:.2f} s, "
        "idempotent, acks=all, incl. JSON building and the final flush)"
    )
    print(
        f"consume:  {consume_rate:,.0f} events/s ({stats.processed:,} processed, "
        f"{stats.dead_lettered} dead-lettered, {stats.commits} commits; "
        f"group join {join_seconds:.1f} s not counted)"
    )
    return {
        "events": float(events),
        "encode_per_second": encode_rate,
        "produce_per_second": produced.rate,
        "consume_per_second": consume_rate,
        "join_seconds": join_seconds,
    }


if __name__ == "__main__":
    main()
