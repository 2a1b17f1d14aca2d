"""Typed functions behind the ingest commands: simulate, replay, embedded broker.

The CLI and the demo call these; tests call them directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from fraudlens.errors import ConfigError, DataError
from fraudlens.kafka import EmbeddedBroker, EventProducer, ensure_topics, replay, replay_labels
from fraudlens.security import tokenizer_from_settings
from fraudlens.security.personal_fields import decrypted_for_replay
from fraudlens.settings import Settings
from fraudlens.simulator import SimulatorConfig, simulate, write_simulation

logger = logging.getLogger(__name__)


def simulate_to_parquet(
    settings: Settings,
    out: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    scenario_starts: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Simulate transactions and labels and write them as Parquet.

    Args:
        settings: FraudLens settings (``simulator`` group gives the defaults).
        out: output folder; ``data_dir/sim`` by default.
        overrides: simulator options that win over settings (None values ignored).
        scenario_starts: day index from which a scenario starts (concept drift).

    Returns:
        A summary: rows, frauds, fraud rate, rows per scenario, time range, paths.
    """
    extra = dict(overrides or {})
    if scenario_starts:
        extra["scenario_start_day"] = dict(scenario_starts)
    config = SimulatorConfig.from_settings(settings.simulator, **extra)
    started = time.perf_counter()
    sim = simulate(config, tokenizer_from_settings(settings))
    seconds = time.perf_counter() - started
    paths = write_simulation(sim, out or settings.data_dir / "sim")
    return summarize(sim.transactions) | {
        "seconds": round(seconds, 2),
        "paths": {name: str(path) for name, path in paths.items()},
    }


def summarize(transactions: pd.DataFrame) -> dict[str, Any]:
    """Row count, fraud share, rows per scenario and time range of a transactions table."""
    frauds = int(transactions["is_fraud"].sum())
    return {
        "rows": len(transactions),
        "frauds": frauds,
        "fraud_rate": round(frauds / max(len(transactions), 1), 5),
        "by_scenario": transactions["fraud_scenario"].value_counts().sort_index().to_dict(),
        "first_event": str(transactions["event_time"].min()),
        "last_event": str(transactions["event_time"].max()),
    }


def read_source(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``transactions.parquet`` and ``labels.parquet`` from a folder.

    Raises:
        DataError: a file is missing (with the command that makes it).
    """
    paths = folder / "transactions.parquet", folder / "labels.parquet"
    for path in paths:
        if not path.exists():
            raise DataError(
                f"{path} not found: run `fraudlens simulate` or `fraudlens import` first"
            )
    return pd.read_parquet(paths[0]), pd.read_parquet(paths[1])


def only_day(frame: pd.DataFrame, column: str, day: date | None) -> pd.DataFrame:
    """Rows whose ``column`` falls on ``day`` (UTC); all rows when ``day`` is None."""
    if day is None:
        return frame
    return frame.loc[frame[column].dt.date == day]


def replay_to_kafka(
    settings: Settings,
    source: Path,
    rate: float | None = None,
    day: date | None = None,
    labels: bool = True,
) -> dict[str, Any]:
    """Publish a transactions table (and its labels) to Kafka.

    Needs a running broker (``kafka.bootstrap_servers``): an embedded broker
    keeps topics in memory, so it must outlive this command (``fraudlens broker``).

    Raises:
        ConfigError: no broker address is configured.
        DataError: the source files are missing or the day has no rows.
    """
    if not settings.kafka.bootstrap_servers:
        raise ConfigError(
            "kafka.bootstrap_servers is not set: start `fraudlens broker` in another "
            "terminal and export the FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS it prints"
        )
    transactions, label_frame = read_source(source)
    transactions = only_day(transactions, "event_time", day)
    if transactions.empty:
        raise DataError(f"no transactions on {day} in {source}")
    transactions = decrypted_for_replay(settings, transactions)  # events carry them in clear
    ensure_topics(settings.kafka)
    kafka = settings.kafka
    with EventProducer(kafka) as producer:
        results = [replay(transactions, producer, kafka.transactions_topic, rate)]
        if labels:
            known = label_frame["transaction_id"].isin(transactions["transaction_id"])
            results.append(replay_labels(label_frame.loc[known], producer, kafka.labels_topic))
    return {result.topic: asdict(result) for result in results}


@contextmanager
def kafka_for(settings: Settings) -> Iterator[Settings]:
    """Settings with a reachable broker: the configured one, or an embedded one.

    In embedded mode with no ``kafka.bootstrap_servers``, starts the bundled
    broker for the duration of the block (logs under ``data_dir/broker``).
    """
    if settings.kafka.bootstrap_servers:
        yield settings
        return
    if settings.mode != "embedded":
        raise ConfigError("kafka.bootstrap_servers is required in production mode")
    with embedded_kafka(settings) as with_broker:
        yield with_broker


@contextmanager
def embedded_kafka(settings: Settings) -> Iterator[Settings]:
    """``settings`` pointed at the bundled broker, started for the block (logs under
    ``data_dir/broker``)."""
    with EmbeddedBroker(settings.data_dir / "broker") as broker:
        kafka = settings.kafka.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
        yield settings.model_copy(update={"kafka": kafka})


def run_embedded_broker(
    settings: Settings, console: Console, stop: threading.Event | None = None
) -> None:
    """Run the embedded broker until Ctrl-C (or ``stop`` is set), with FraudLens topics."""
    with embedded_kafka(settings) as with_broker:
        servers = with_broker.kafka.bootstrap_servers
        ensure_topics(with_broker.kafka)
        console.print(f"broker ready: export FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS={servers}")
        stop = stop or threading.Event()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            console.print("stopping broker")
