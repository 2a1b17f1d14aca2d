"""The system of record on the embedded PostgreSQL: decision upserts, audit appends, the sink.

Run: ``.venv/bin/python -m benchmarks.bench_records [--decisions N]``. Starts an
embedded PostgreSQL and the embedded broker in a temporary folder (removed
afterwards), then measures: batched idempotent decision upserts (in-process),
audit-chain appends (one writer, one transaction each, HMAC), and the decision
sink reading the topic into PostgreSQL (group join not counted).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fraudlens.kafka import EmbeddedBroker, EventProducer, ensure_topics
from fraudlens.records import PgAuditLog, decision_row, make_engine, upgrade, upsert_decisions
from fraudlens.records.embedded import start_embedded, stop_embedded
from fraudlens.records.sink import run_decision_sink
from fraudlens.scoring.result import Reason
from fraudlens.scoring.stream import DecisionEvent
from fraudlens.settings import KafkaSettings, Settings

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _events(n: int, prefix: str) -> list[DecisionEvent]:
    reasons = [Reason(kind="model", code="amount", text="amount", value=10.0)]
    return [
        DecisionEvent(
            decision_id=f"{prefix}-{i:08d}",
            transaction_id=f"tx-{prefix}-{i:08d}",
            event_time=T0 + timedelta(seconds=i),
            card_token=f"tok_bench_{i % 5000:05d}",
            score=0.1,
            decision="approve",
            reasons=reasons,
            model_version="1",
            degraded=False,
            scored_at=T0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Measure and print rows/s; returns the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=50_000, help="decisions to store")
    parser.add_argument("--batch-size", type=int, default=500, help="decisions per transaction")
    parser.add_argument("--audit", type=int, default=2_000, help="audit entries to append")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="fraudlens-bench-records-"))
    try:
        url = start_embedded(root / "pg")
        engine = make_engine(url)
        upgrade(engine)

        rows = [decision_row(e) for e in _events(args.decisions, "up")]
        started = time.perf_counter()
        for i in range(0, len(rows), args.batch_size):
            with engine.begin() as conn:
                upsert_decisions(conn, rows[i : i + args.batch_size])
        upsert_rate = len(rows) / (time.perf_counter() - started)

        log = PgAuditLog(engine, b"bench-audit-key-0123456789abcdef-0123")
        started = time.perf_counter()
        for i in range(args.audit):
            log.append("bench", "rule.changed", target=f"rule-{i}", details={"i": i})
        audit_rate = args.audit / (time.perf_counter() - started)
        assert log.verify().ok

        with EmbeddedBroker(root / "broker") as broker:
            kafka = KafkaSettings(
                bootstrap_servers=broker.bootstrap_servers,
                consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
            )
            ensure_topics(kafka)
            events = _events(args.decisions, "sink")
            with EventProducer(kafka) as producer:
                for event in events:
                    producer.send(
                        kafka.decisions_topic, event.card_token, event.model_dump_json().encode()
                    )
            settings = Settings(data_dir=root, kafka=kafka, records={"database_url": url})
            # Join the group on a first message, then time the rest.
            started = time.perf_counter()
            stats = run_decision_sink(
                settings,
                idle_timeout=3.0,
                batch_size=args.batch_size,
                consumer_config={"session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000},
            )
            sink_seconds = time.perf_counter() - started - 3.0  # the idle wait at the end
        engine.dispose()
    finally:
        stop_embedded(root / "pg")
        shutil.rmtree(root, ignore_errors=True)

    sink_rate = stats.inserted / sink_seconds
    print(
        f"upsert:  {upsert_rate:,.0f} decisions/s ({args.decisions:,} in batches of {args.batch_size})"
    )
    print(f"audit:   {audit_rate:,.0f} appends/s (one writer, one transaction each, HMAC)")
    print(
        f"sink:    {sink_rate:,.0f} decisions/s topic -> PostgreSQL ({stats.inserted:,} stored, "
        "group join included, final idle wait not)"
    )
    return {
        "upsert_per_second": upsert_rate,
        "audit_appends_per_second": audit_rate,
        "sink_per_second": sink_rate,
    }


if __name__ == "__main__":
    main()
