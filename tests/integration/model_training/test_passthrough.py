"""Passthrough columns reach the served vector.

A simulated history is imported with one extra numeric column,
``device_score``, that alone separates fraud (above 0.9 for every fraud, below
0.85 for every legitimate transaction). The import writes ``x_device_score``;
training reads it from the history (``load_training_data``, in-memory
features) and trains with Ray Train; the real scoring service (MLflow model,
Feast online store filled from the same history) then scores transactions
with and without ``extras``: the served vector holds the value sent (or the
declared default), and a high score follows a high device score.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fraudlens.features.fold import StateFolder
from fraudlens.features.repo import apply, offline_path
from fraudlens.features.sink import FeastSink
from fraudlens.features.store import open_store
from fraudlens.features.stream import to_event
from fraudlens.importer import ColumnMapping, import_transactions
from fraudlens.schema import TRANSACTION_FIELDS, Label, Transaction
from fraudlens.scoring.adapters import FeastFeatures, MlflowModels
from fraudlens.scoring.config import ScoringConfig
from fraudlens.scoring.scorer import Scorer
from fraudlens.scoring.service import ScoringService
from fraudlens.security import KeyRing, Tokenizer
from fraudlens.settings import FeastSettings, Settings
from fraudlens.simulator import SimulatorConfig, label_records, simulate, transaction_records
from training.dataset import load_training_data
from training.pipeline import train

pytestmark = pytest.mark.integration

START, END = "2026-06-01", "2026-07-06"
DEFAULT = 0.0


def _import_file(tmp_path: Path) -> tuple[Path, ColumnMapping]:
    """A simulated history as the user's Parquet, with a device score that gives fraud away."""
    config = SimulatorConfig(
        customers=350, terminals=100, days=35, start_date=date(2026, 6, 1), fraud_rate=0.03, seed=8
    )
    tx = simulate(config, Tokenizer("test", {"test": b"k" * 32})).transactions
    rng = np.random.default_rng(3)
    fraud = tx["is_fraud"].to_numpy(bool)
    score = np.where(fraud, rng.uniform(0.91, 1.0, len(tx)), rng.uniform(0.0, 0.85, len(tx)))
    fields = [
        f for f in TRANSACTION_FIELDS if f not in {"schema_version", "device_id", "ip_address"}
    ]
    source = tx[[*fields, "is_fraud", "label_time"]].assign(device_score=score.round(4))
    path = tmp_path / "history.parquet"
    source.to_parquet(path, index=False)
    mapping = ColumnMapping.model_validate(
        yaml.safe_load(
            yaml.safe_dump(
                {
                    "columns": {f: f for f in [*fields, "is_fraud", "label_time"]},
                    "extras": {"numeric": {"device_score": DEFAULT}},
                }
            )
        )
    )
    return path, mapping


def _fill_online_store(settings: Settings, transactions: pd.DataFrame) -> None:
    """Fold the imported history into entity state and write it to Feast."""
    labels = transactions.loc[transactions["is_fraud"]].assign(source="chargeback")
    events = [to_event(Transaction.model_validate(r)) for r in transaction_records(transactions)]
    events += [
        to_event(Label.model_validate(r))
        for r in label_records(labels[["transaction_id", "is_fraud", "label_time", "source"]])
    ]
    folder = StateFolder(settings.feast.max_label_delay_days * 86_400 * 10**6)
    FeastSink(open_store(settings), offline_path(settings), "test").write(folder.apply(events))


def test_passthrough_columns_reach_the_served_vector(
    ray_cluster: None, training_settings: Settings, tmp_path: Path
) -> None:
    # Smaller than the session's model: one class weighting, fewer rounds and epochs.
    cfg = training_settings.training.model_copy(
        update={
            "features_source": "memory",
            "imbalance_powers": [1.0],
            "xgb_rounds": 60,
            "mlp_epochs": 1,
            "ray_workers": 1,
        }
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        training=cfg,
        feast=FeastSettings(project=f"fl_extras_{os.getpid()}"),
    )
    source, mapping = _import_file(tmp_path)
    keyring = KeyRing("e1", {"e1": b"e" * 32})
    imported = import_transactions(
        source,
        mapping,
        settings.data_dir / "import",
        Tokenizer("test", {"test": b"k" * 32}),
        keyring=keyring,
    )
    assert imported.rejected == 0 and imported.frauds > 50

    data = load_training_data(settings, START, END)
    assert data.extras == {"device_score": DEFAULT}
    assert data.feature_names[-1] == "x_device_score"
    result = train(settings, START, END, data=data)
    model = result.model
    assert "x_device_score" in model.feature_names
    assert model.metadata["extras"] == {"device_score": DEFAULT}
    assert "`x_device_score` (default 0)" in result.card
    # The extra alone separates fraud: the model must have learned it.
    assert result.test.metrics["average_precision"] > 0.95

    apply(settings)
    history = pd.read_parquet(imported.transactions_path)
    _fill_online_store(settings, history)
    features = FeastFeatures(settings)
    service = ScoringService(
        MlflowModels(settings), features, scorer=Scorer(features, feature_timeout_s=30.0)
    )
    try:
        service.apply_config(ScoringConfig(model_version=result.version, shadow=False))
        assert service.warm_up() == "ok"
        legit = history.loc[~history["is_fraud"] & (history["event_time"] >= "2026-07-01")]
        base = [Transaction.model_validate(r) for r in transaction_records(legit.head(20))]

        def with_extras(extras: dict[str, float] | None) -> list[Transaction]:
            return [t.model_copy(update={"extras": extras}) for t in base]

        high = service.score(with_extras({"device_score": 0.97, "unknown_field": 5.0}))
        low = service.score(with_extras({"device_score": 0.05}))
        absent = service.score(with_extras(None))
    finally:
        service.close()

    for results, sent in ((high, 0.97), (low, 0.05), (absent, DEFAULT)):
        assert not any(r.degraded for r in results)
        assert [r.features["x_device_score"] for r in results] == [sent] * len(base)
        assert "x_unknown_field" not in results[0].features
    high_scores = np.array([r.score for r in high], dtype=np.float64)
    low_scores = np.array([r.score for r in low], dtype=np.float64)
    assert (high_scores > low_scores).all()
    assert high_scores.min() > 0.5 > low_scores.max()
    # No decision is asserted: the review threshold is set on validation frauds,
    # which carry other signals besides the device score (entry mode, amounts).
