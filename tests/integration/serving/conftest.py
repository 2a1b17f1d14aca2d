"""Session fixtures of the serving tests: real Feast (Redis), MLflow, Ray Serve, Kafka.

Built once per session (Ray and Serve start slowly on 2 cores):

- ``serving_sim``: a small simulation (two weeks, ~3,000 transactions), and
  ``bodies``: its transactions as API request bodies;
- ``online_redis``: a private redis-server the tests can stop and restart;
- ``serving_settings``: Settings with the Feast repo applied, the online store
  filled from the simulation, and three registered model versions
  (``champion``, ``challenger``, and a bad one) in an MLflow whose backend store
  is a PostgreSQL database (``mlflow_url``), as in production;
- ``serve_url``: the Serve app started with ``ray_apps.run.serve_local``;
- ``online_store_switch``: stops and restarts (refilled) Redis in one test; it
  is running again after the test whatever happens.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import xgboost as xgb
from api_client import api_keys
from http_ready import wait_ready
from online_store import OnlineStoreSwitch
from serving_data import Models, transactions_of
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fraudlens.features.fold import StateFolder
from fraudlens.features.registry import FEATURE_NAMES
from fraudlens.features.repo import apply, offline_path
from fraudlens.features.sink import FeastSink
from fraudlens.features.store import DEFAULT_SERVICE, open_store
from fraudlens.features.stream import to_event
from fraudlens.kafka import EmbeddedBroker, ensure_topics, free_port
from fraudlens.model import FraudModel, MlpMember, Thresholds, mlflow_client
from fraudlens.model.mlp import FraudMLP, fit_scaler
from fraudlens.redis_server import EmbeddedRedis
from fraudlens.schema import Label
from fraudlens.security.tokenize import tokenizer_from_settings
from fraudlens.settings import (
    FeastSettings,
    KafkaSettings,
    MlflowSettings,
    SecuritySettings,
    ServeSettings,
    Settings,
)
from fraudlens.simulator import Simulation, SimulatorConfig, simulate
from fraudlens.simulator.core import label_records, transaction_records
from training.local_features import compute_features
from training.register import register

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def serving_sim(tmp_path_factory: pytest.TempPathFactory) -> Simulation:
    """About 3,000 transactions over 14 days (tokens under the session's demo key)."""
    config = SimulatorConfig(
        customers=260,
        terminals=80,
        days=14,
        start_date=date(2026, 6, 1),
        seed=5,
        fraud_rate=0.03,
    )
    settings = Settings(data_dir=tmp_path_factory.getbasetemp() / "serving-data")
    return simulate(config, tokenizer_from_settings(settings))


@pytest.fixture(scope="session")
def bodies(serving_sim: Simulation) -> list[dict[str, Any]]:
    """The API request body of every simulated transaction, in time order."""
    out = []
    for record in transaction_records(serving_sim.transactions):
        body = {k: v for k, v in record.items() if v is not None}
        body["event_time"] = record["event_time"].isoformat()
        out.append(body)
    return out


@pytest.fixture(scope="session")
def online_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path_factory.mktemp("serving-redis")) as redis:
        yield redis


@pytest.fixture(scope="session")
def serving_kafka(kafka_broker: EmbeddedBroker) -> KafkaSettings:
    suffix = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        transactions_topic=f"transactions-{suffix}",
        labels_topic=f"labels-{suffix}",
        decisions_topic=f"decisions-{suffix}",
        dead_letter_topic=f"dead-letter-{suffix}",
        shadow_topic=f"shadow-scores-{suffix}",
        consumer_group=f"fraudlens-serving-{suffix}",
        partitions=2,
    )
    ensure_topics(kafka)
    return kafka


def seed_online_store(settings: Settings, sim: Simulation) -> None:
    """Fold every simulated event into entity state and write it to Feast."""
    events = [to_event(t) for t in transactions_of(sim.transactions)]
    events += [to_event(Label.model_validate(r)) for r in label_records(sim.labels)]
    folder = StateFolder(settings.feast.max_label_delay_days * 86_400 * 10**6)
    result = folder.apply(events)
    FeastSink(open_store(settings), offline_path(settings), "serving-test").write(result)


def _model(x: np.ndarray, y: np.ndarray, names: list[str], seed: int, service: str) -> FraudModel:
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": seed, "nthread": 1},
        xgb.DMatrix(x, label=y, feature_names=names),
        num_boost_round=20 + seed,
    )
    mean, std = fit_scaler(x)
    torch.manual_seed(seed)
    mlp = MlpMember(FraudMLP(len(names), [8]), [8], mean, std)
    model = FraudModel(
        booster, mlp, 0.9, (1.0, 0.0), names, service, Thresholds(review=0.5, decline=0.9)
    )
    scores = model.predict(pd.DataFrame(x, columns=names))
    review, decline = np.quantile(scores, [0.97, 0.995])
    model.thresholds = Thresholds(review=float(review), decline=float(max(decline, review)))
    return model


def register_models(settings: Settings, sim: Simulation) -> Models:
    """Train three tiny ensembles in-process (no Ray Train) and register them."""
    frame = compute_features(sim.transactions)
    names = list(FEATURE_NAMES)
    x = frame[names].to_numpy(dtype=np.float32)
    y = sim.transactions["is_fraud"].to_numpy(dtype=np.float32)
    versions = []
    for seed, service, cols in (
        (1, DEFAULT_SERVICE, names),
        (2, DEFAULT_SERVICE, names),
        (3, "fraud_model_v999", names),  # a feature service the store does not have
    ):
        model = _model(x, y, cols, seed, service)
        with warnings.catch_warnings():
            # MLflow's advice on logging (input examples); models here are test fixtures.
            warnings.filterwarnings("ignore", ".*input example was not provided", UserWarning)
            registered = register(
                settings,
                model,
                run_name=f"serving-test-{seed}",
                params={"seed": seed},
                metrics={},
                lineage={"feature_service": service},
                plots=[],
                tables={},
            )
        versions.append(registered.version)
    client = mlflow_client(settings)
    name = settings.mlflow.model_name
    client.set_registered_model_alias(name, "champion", versions[0])
    client.set_registered_model_alias(name, "challenger", versions[1])
    return Models(*versions)


@pytest.fixture(scope="session")
def mlflow_url(postgres_url: str) -> str:
    """A fresh PostgreSQL database for MLflow's backend store (tracking and registry)."""
    name = f"mlflow_serving_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def serving_settings(
    tmp_path_factory: pytest.TempPathFactory,
    serving_sim: Simulation,
    online_redis: EmbeddedRedis,
    serving_kafka: KafkaSettings,
    mlflow_url: str,
) -> Settings:
    """Settings whose Feast store is filled and whose registry holds three versions."""
    settings = Settings(
        data_dir=tmp_path_factory.getbasetemp() / "serving-data",
        kafka=serving_kafka,
        mlflow=MlflowSettings(tracking_uri=mlflow_url),
        feast=FeastSettings(
            online_store="redis",
            redis_connection_string=online_redis.url,
            project=f"fl_serving_{os.getpid()}",
        ),
        security=SecuritySettings(api_keys=api_keys()),  # the API authenticates
        serve=ServeSettings(
            port=free_port(),
            rules_poll_s=0.5,
            model_poll_s=0.5,
            feature_timeout_ms=1000,
            num_cpus=0.25,
        ),
    )
    apply(settings)
    seed_online_store(settings, serving_sim)
    return settings


@pytest.fixture(scope="session")
def models(serving_settings: Settings, serving_sim: Simulation) -> Models:
    return register_models(serving_settings, serving_sim)


@pytest.fixture(scope="session")
def serve_url(serving_settings: Settings, models: Models) -> Iterator[str]:
    """The scoring API on a local Ray Serve, ready to answer."""
    import ray
    from ray import serve

    from ray_apps.run import serve_local, start_ray

    if ray.is_initialized():
        ray.shutdown()  # a Ray left by earlier tests lacks the production Serve env
    start_ray(serving_settings, num_cpus=2, logging_level="warning")
    try:
        url = serve_local(serving_settings, blocking=False, shadow=True)
        wait_ready(url, 120)
        yield url
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture
def online_store_switch(
    online_redis: EmbeddedRedis, serving_settings: Settings, serving_sim: Simulation
) -> Iterator[OnlineStoreSwitch]:
    switch = OnlineStoreSwitch(
        online_redis, lambda: seed_online_store(serving_settings, serving_sim)
    )
    yield switch
    switch.restart()
