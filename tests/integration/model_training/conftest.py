"""Session fixtures of the training tests: Ray once, one simulated history, one trained model.

- ``ray_cluster``: a local Ray (2 CPUs) for the session, unless one is running.
- ``history``: a small simulation with the real feature functions applied
  (``training.local_features``): about 35,000 transactions over 7 weeks.
- ``training_settings``: Settings with a fresh data dir (SQLite MLflow) and a
  small, fast training configuration.
- ``trained``: the model trained end to end through Ray Train and MLflow
  (``training_run`` also gives the registry aliases right after training).
- ``register_variant``: registers another model (no training run) with the
  trained model's lineage; returns the new version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pandas as pd
import pytest

from fraudlens.features import FEATURE_NAMES
from fraudlens.model import FraudModel, mlflow_client
from fraudlens.security.tokenize import Tokenizer
from fraudlens.settings import Settings, TrainingSettings
from fraudlens.simulator import SimulatorConfig, simulate
from training.dataset import TrainingData, from_frame
from training.local_features import compute_features
from training.pipeline import TrainResult, train
from training.register import register

START, END = "2026-06-01", "2026-07-20"
SERVICE = "fraud_model_v1"


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """Ray for the whole session (starting it takes 5-18 s here)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def history() -> pd.DataFrame:
    """Simulated transactions with labels and their point-in-time features."""
    config = SimulatorConfig(
        customers=900, terminals=250, days=49, start_date=date(2026, 6, 1), fraud_rate=0.015, seed=5
    )
    sim = simulate(config, Tokenizer("test", {"test": b"k" * 32}))
    return pd.concat([sim.transactions, compute_features(sim.transactions)], axis=1)


@pytest.fixture(scope="session")
def training_data(history: pd.DataFrame) -> TrainingData:
    return from_frame(history, list(FEATURE_NAMES), SERVICE, START, END)


@pytest.fixture(scope="session")
def training_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    cfg = TrainingSettings(
        label_delay_days=7,
        validation_days=7,
        test_days=7,
        imbalance_powers=[0.0, 1.0],
        xgb_rounds=120,
        xgb_early_stopping=20,
        mlp_epochs=3,
        cards_per_day=20,
        reference_rows=300,
    )
    return Settings(data_dir=tmp_path_factory.mktemp("training"), training=cfg)


@pytest.fixture(scope="session")
def training_run(
    ray_cluster: None, training_settings: Settings, training_data: TrainingData
) -> tuple[TrainResult, dict[str, str]]:
    """The trained model and the registry aliases right after training."""
    result = train(training_settings, START, END, data=training_data)
    client = mlflow_client(training_settings)
    aliases = client.get_registered_model(training_settings.mlflow.model_name).aliases
    return result, {key: str(value) for key, value in aliases.items()}


@pytest.fixture(scope="session")
def trained(training_run: tuple[TrainResult, dict[str, str]]) -> TrainResult:
    return training_run[0]


@pytest.fixture(scope="session")
def register_variant(
    trained: TrainResult, training_settings: Settings
) -> Callable[[FraudModel, str, dict[str, str]], str]:
    """``(model, run_name, params) -> version``: a variant of the trained model, registered as is."""

    def register_model(model: FraudModel, run_name: str, params: dict[str, str]) -> str:
        lineage = {"feature_service": model.feature_service, **trained.split.bounds.as_dict()}
        registered = register(
            training_settings,
            model,
            run_name=run_name,
            params=params,
            metrics={},
            lineage=lineage,
            plots=[],
            tables={},
        )
        return registered.version

    return register_model
