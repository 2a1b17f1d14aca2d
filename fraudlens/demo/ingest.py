"""Demo steps 1-2: simulate, then replay through Kafka and consume back (with dead letters)."""

from __future__ import annotations

import logging
import time
from collections import Counter

from rich.console import Console
from rich.table import Table

from fraudlens.demo.state import DemoState
from fraudlens.errors import BrokerError
from fraudlens.kafka import ConsumedEvent, EventProducer, consume, ensure_topics
from fraudlens.pipeline import replay_to_kafka, simulate_to_parquet

logger = logging.getLogger(__name__)

# Deliberately broken events, to show the dead-letter path.
BAD_EVENTS = (
    b'{"transaction_id": "bad-1", "amount": -12.5}',
    b"not json at all",
    b'{"transaction_id": "bad-3", "currency": "XXX"}',
)


def simulate_step(state: DemoState, console: Console) -> None:
    """Simulate the history and print the scenario mix."""
    console.rule("1. simulate transactions")
    result = simulate_to_parquet(state.settings, state.sim_dir)
    state.summary["simulate"] = result
    table = Table("scenario", "fraud transactions")
    for name, count in result["by_scenario"].items():
        table.add_row(name, f"{count:,}")
    console.print(
        f"{result['rows']:,} transactions from {result['first_event'][:10]} to "
        f"{result['last_event'][:10]}, {result['frauds']:,} fraudulent "
        f"({result['fraud_rate']:.2%}), simulated in {result['seconds']} s"
    )
    console.print(table)


def kafka_step(state: DemoState, console: Console) -> None:
    """Replay transactions and labels into Kafka, add malformed events, consume back."""
    console.rule("2. replay into Kafka and consume back")
    settings = state.settings
    kafka = settings.kafka
    ensure_topics(kafka)
    published = replay_to_kafka(settings, state.sim_dir)
    with EventProducer(kafka) as producer:
        for raw in BAD_EVENTS:
            producer.send(kafka.transactions_topic, b"demo-bad", raw)
    for topic, result in published.items():
        console.print(
            f"published {result['events']:,} events to {topic} at {result['rate']:,.0f}/s"
        )

    seen: Counter[str] = Counter()

    def handle(batch: list[ConsumedEvent]) -> None:
        seen.update(item.topic for item in batch)

    expected = sum(r["events"] for r in published.values()) + len(BAD_EVENTS)
    started = time.perf_counter()
    stats = consume(
        kafka,
        [kafka.transactions_topic, kafka.labels_topic],
        handle,
        validation=settings.validation,
        group_id=f"fraudlens-demo-{int(time.time())}",
        max_events=expected,
        idle_timeout=15.0,
    )
    seconds = time.perf_counter() - started
    state.summary["consume"] = {"by_topic": dict(seen), "dead_lettered": stats.dead_lettered}
    table = Table("topic", "published", "consumed and validated")
    for topic, result in published.items():
        table.add_row(topic, f"{result['events']:,}", f"{seen[topic]:,}")
    table.add_row(kafka.dead_letter_topic, f"{len(BAD_EVENTS)} malformed", f"{stats.dead_lettered}")
    console.print(table)
    console.print(
        f"consumed {stats.consumed:,} events in {seconds:.1f} s ({stats.consumed / seconds:,.0f}/s)"
    )
    lost = sum(r["events"] for r in published.values()) - stats.processed
    if lost or stats.dead_lettered != len(BAD_EVENTS):
        raise BrokerError(
            f"demo check failed: {lost} events missing, {stats.dead_lettered} dead-lettered"
        )
