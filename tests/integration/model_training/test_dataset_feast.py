"""The training set from Feast: historical features of the feature service, rows checked.

The offline store is filled the way the stream job does it (fold + sink), and
the result must equal the in-memory fold of the same feature functions.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from fraudlens.errors import DataError
from fraudlens.features.fold import StateFolder
from fraudlens.features.repo import apply, offline_path
from fraudlens.features.sink import FeastSink
from fraudlens.features.store import open_store
from fraudlens.features.stream import to_event
from fraudlens.schema import Label, Transaction
from fraudlens.security.tokenize import Tokenizer
from fraudlens.settings import FeastSettings, Settings
from fraudlens.simulator import (
    SimulatorConfig,
    label_records,
    simulate,
    transaction_records,
    write_simulation,
)
from training.dataset import load_training_data
from training.local_features import compute_features

pytestmark = pytest.mark.integration

WINDOW = ("2026-06-03", "2026-06-11")


def test_training_data_comes_from_feast_one_row_per_transaction(tmp_path: Path) -> None:
    config = SimulatorConfig(
        customers=120, terminals=40, days=10, start_date=date(2026, 6, 1), seed=4, fraud_rate=0.03
    )
    sim = simulate(config, Tokenizer("test", {"test": b"k" * 32}))
    settings = Settings(
        data_dir=tmp_path, feast=FeastSettings(project=f"fl_training_{os.getpid()}")
    )
    apply(settings)
    write_simulation(sim, settings.data_dir / "sim")
    events = [
        to_event(Transaction.model_validate(r)) for r in transaction_records(sim.transactions)
    ]
    events += [to_event(Label.model_validate(r)) for r in label_records(sim.labels)]
    folder = StateFolder(settings.feast.max_label_delay_days * 86_400 * 10**6)
    FeastSink(open_store(settings), offline_path(settings), "test").write(folder.apply(events))

    data = load_training_data(settings, *WINDOW)
    window = sim.transactions[sim.transactions["event_time"] >= "2026-06-03"]
    assert data.source == "feast" and data.feature_service == "fraud_model_v1"
    assert list(data.frame["transaction_id"]) == list(window["transaction_id"])
    assert data.frame["is_fraud"].sum() == window["is_fraud"].sum()
    expected = compute_features(sim.transactions).loc[window.index, data.feature_names]
    assert np.array_equal(data.frame[data.feature_names].to_numpy(), expected.to_numpy())

    # The in-process fold of the same functions gives the same training set.
    training = settings.training.model_copy(update={"features_source": "memory"})
    memory = load_training_data(settings.model_copy(update={"training": training}), *WINDOW)
    assert memory.source == "memory" and memory.feature_names == data.feature_names
    assert memory.fingerprint == data.fingerprint

    with pytest.raises(DataError, match="no transactions"):
        load_training_data(settings, "2027-01-01", "2027-01-02")
