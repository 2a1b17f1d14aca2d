"""A categorical passthrough column reaches the served vector and carries its signal.

A simulated history is imported with one extra text column, ``device_type``:
every fraud says ``emulator``; legitimate transactions say ``mobile``,
``desktop`` or ``tablet``, and a handful say ``kiosk`` (too rare for its own
column). Training learns the vocabulary on the training rows, one-hot
encodes it for both members and keeps it in the model's metadata; the real
scoring service then scores legitimate transactions sent as ``emulator``,
``mobile``, an unseen value and no value: the served vector holds the one-hot
columns of the value sent (``other`` for the unseen one, the default when
none), the score follows the fraud value, and the reasons name it.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_passthrough import _fill_online_store

from fraudlens.importer import ColumnMapping, import_transactions
from fraudlens.schema import TRANSACTION_FIELDS, Transaction
from fraudlens.scoring.adapters import FeastFeatures, MlflowModels
from fraudlens.scoring.config import ScoringConfig
from fraudlens.scoring.scorer import Scorer
from fraudlens.scoring.service import ScoringService
from fraudlens.security import KeyRing, Tokenizer
from fraudlens.settings import FeastSettings, Settings
from fraudlens.simulator import SimulatorConfig, simulate, transaction_records
from training.dataset import load_training_data
from training.pipeline import train

pytestmark = pytest.mark.integration

START, END = "2026-06-01", "2026-07-06"
DEFAULT = "mobile"


def _import_file(tmp_path: Path) -> tuple[Path, ColumnMapping]:
    """A simulated history as the user's Parquet, with a device type that gives fraud away."""
    config = SimulatorConfig(
        customers=350, terminals=100, days=35, start_date=date(2026, 6, 1), fraud_rate=0.03, seed=8
    )
    tx = simulate(config, Tokenizer("test", {"test": b"k" * 32})).transactions
    rng = np.random.default_rng(4)
    fraud = tx["is_fraud"].to_numpy(bool)
    device = rng.choice(np.array(["mobile", "desktop", "tablet"], dtype=object), len(tx))
    device[fraud] = "emulator"
    legit = np.flatnonzero(~fraud)
    device[legit[:4]] = "kiosk"  # rare: no column of its own, it counts as other
    device[legit[4:40]] = None  # empty cells: the declared default
    fields = [
        f for f in TRANSACTION_FIELDS if f not in {"schema_version", "device_id", "ip_address"}
    ]
    source = tx[[*fields, "is_fraud", "label_time"]].assign(device_type=device)
    path = tmp_path / "history.parquet"
    source.to_parquet(path, index=False)
    mapping = ColumnMapping.model_validate(
        {
            "columns": {f: f for f in [*fields, "is_fraud", "label_time"]},
            "extras": {"categorical": {"device_type": DEFAULT}},
        }
    )
    return path, mapping


def test_a_categorical_column_carries_its_signal_to_the_served_vector(
    ray_cluster: None, training_settings: Settings, tmp_path: Path
) -> None:
    cfg = training_settings.training.model_copy(
        update={
            "features_source": "memory",
            "imbalance_powers": [1.0],
            "xgb_rounds": 60,
            "mlp_epochs": 1,
            "ray_workers": 1,
            "categorical_min_count": 20,
        }
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        training=cfg,
        feast=FeastSettings(project=f"fl_cat_{os.getpid()}"),
    )
    source, mapping = _import_file(tmp_path)
    imported = import_transactions(
        source,
        mapping,
        settings.data_dir / "import",
        Tokenizer("test", {"test": b"k" * 32}),
        keyring=KeyRing("e1", {"e1": b"e" * 32}),
    )
    assert imported.rejected == 0 and imported.frauds > 50
    assert imported.extra_columns == ("x_device_type",)

    data = load_training_data(settings, START, END)
    assert data.categorical == {"device_type": DEFAULT}
    assert "x_device_type" in data.frame.columns
    assert not any(n.startswith("x_device_type") for n in data.feature_names)
    result = train(settings, START, END, data=data)
    model = result.model
    vocabulary = model.metadata["categorical"]["device_type"]
    assert vocabulary["default"] == DEFAULT
    assert sorted(vocabulary["values"]) == ["desktop", "emulator", "mobile", "tablet"]
    columns = [f"x_device_type__{i}" for i in range(4)] + ["x_device_type__other"]
    assert model.feature_names[-5:] == columns
    assert "`x_device_type`: 4 values + other" in result.card
    # The column alone separates fraud: the model must have learned it.
    assert result.test.metrics["average_precision"] > 0.95

    apply_and_fill(settings, imported.transactions_path)
    features = FeastFeatures(settings)
    service = ScoringService(
        MlflowModels(settings), features, scorer=Scorer(features, feature_timeout_s=30.0)
    )
    history = pd.read_parquet(imported.transactions_path)
    try:
        service.apply_config(ScoringConfig(model_version=result.version, shadow=False))
        assert service.warm_up() == "ok"
        legit = history.loc[~history["is_fraud"] & (history["event_time"] >= "2026-07-01")]
        base = [Transaction.model_validate(r) for r in transaction_records(legit.head(20))]

        def send(extras: dict[str, float | str] | None) -> list[Transaction]:
            return [t.model_copy(update={"extras": extras}) for t in base]

        emulator = service.score(send({"device_type": "emulator", "unknown_field": "x"}))
        mobile = service.score(send({"device_type": "mobile"}))
        unseen = service.score(send({"device_type": "smart fridge"}))
        absent = service.score(send(None))
    finally:
        service.close()

    def slot(value: str) -> str:
        return columns[vocabulary["values"].index(value)]

    for results, hot in (
        (emulator, slot("emulator")),
        (mobile, slot("mobile")),
        (unseen, "x_device_type__other"),
        (absent, slot(DEFAULT)),
    ):
        assert not any(r.degraded for r in results)
        assert all(
            {c: r.features[c] for c in columns} == {c: float(c == hot) for c in columns}
            for r in results
        )
        assert "x_unknown_field" not in results[0].features
    high = np.array([r.score for r in emulator], dtype=np.float64)
    low = np.array([r.score for r in mobile], dtype=np.float64)
    assert high.min() > 0.5 > low.max()
    assert [r.score for r in absent] == [r.score for r in mobile]
    texts = [reason.text for r in emulator for reason in r.reasons if reason.kind == "model"]
    assert "device_type is 'emulator'" in texts


def apply_and_fill(settings: Settings, transactions: Path) -> None:
    """Register the feature repo and fill the online store from the imported history."""
    from fraudlens.features.repo import apply

    apply(settings)
    _fill_online_store(settings, pd.read_parquet(transactions))
