"""The training set from Feast: the feature service's features from the per-transaction
``transaction_features`` view, rows checked.

The offline store is filled the way the stream job does it (fold + sink, which
writes the feature rows of each micro-batch), and the frame must equal the
in-memory fold of the same feature functions bit for bit (DataFrame.equals).
The history includes fraud labels, two transactions of one card in the same
microsecond, and a card and a terminal seen for the first time.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pytest

from fraudlens.errors import DataError
from fraudlens.features.context import frame_context
from fraudlens.features.fold import StateFolder
from fraudlens.features.offline import read_transaction_rows, write_table
from fraudlens.features.repo import apply, offline_path
from fraudlens.features.sink import FeastSink
from fraudlens.features.store import open_store
from fraudlens.features.stream import to_event
from fraudlens.history import write_import_info
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
    tx = sim.transactions
    # Same microsecond for two transactions of one card (inside the window).
    card = tx.loc[tx["event_time"] >= "2026-06-05", "card_token"].value_counts().index[0]
    first, second = tx.index[(tx["card_token"] == card) & (tx["event_time"] >= "2026-06-05")][:2]
    tx.loc[second, "event_time"] = tx.loc[first, "event_time"]
    # A card and a terminal never seen before.
    newcomer = tx.loc[[second]].assign(
        transaction_id="newcomer",
        card_token="tok_test_" + "a" * 32,
        terminal_id="term-new",
        is_fraud=False,
    )
    newcomer.loc[:, "label_time"] = pd.NaT
    newcomer["fraud_scenario"] = None
    tx = pd.concat([tx, newcomer]).sort_values(["event_time", "transaction_id"], kind="stable")
    sim = replace(sim, transactions=tx.reset_index(drop=True))
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
    assert data.frame["is_fraud"].sum() > 0 and "newcomer" in set(data.frame["transaction_id"])
    # Context columns come from the transaction itself, on both paths.
    columns = [compute_features(sim.transactions), frame_context(sim.transactions)]
    expected = pd.concat(columns, axis=1).loc[window.index, data.feature_names]
    assert data.frame[data.feature_names].equals(expected.reset_index(drop=True))

    # The in-process fold of the same functions gives the same training set.
    training = settings.training.model_copy(update={"features_source": "memory"})
    memory = load_training_data(settings.model_copy(update={"training": training}), *WINDOW)
    assert memory.source == "memory" and memory.feature_names == data.feature_names
    assert memory.fingerprint == data.fingerprint

    # Passthrough columns of an import ride on the history rows, on both paths.
    history_path = settings.data_dir / "sim" / "transactions.parquet"
    stored = pd.read_parquet(history_path)
    stored["x_device_score"] = stored.index.to_numpy() / 1000.0
    stored.to_parquet(history_path, index=False)
    write_import_info(settings.data_dir / "sim", {"extras": {"numeric": {"device_score": 0.5}}})
    with_extras = load_training_data(settings, *WINDOW)
    assert with_extras.feature_names == [*data.feature_names, "x_device_score"]
    assert with_extras.extras == {"device_score": 0.5}
    by_id = stored.set_index("transaction_id")["x_device_score"]
    expected_extra = by_id.loc[with_extras.frame["transaction_id"]].to_numpy()
    assert (with_extras.frame["x_device_score"].to_numpy() == expected_extra).all()
    assert with_extras.frame[data.feature_names].equals(data.frame[data.feature_names])
    memory = load_training_data(settings.model_copy(update={"training": training}), *WINDOW)
    assert memory.feature_names == with_extras.feature_names
    assert memory.fingerprint == with_extras.fingerprint != data.fingerprint

    with pytest.raises(DataError, match="no transactions"):
        load_training_data(settings, "2027-01-01", "2027-01-02")

    # A transaction without a feature row is an error that says what to run.
    root = offline_path(settings)
    rows = read_transaction_rows(root)
    for path in (root / "transaction_features").glob("test-*.parquet"):
        path.unlink()
    write_table(
        root, "transaction_features", rows.filter(pc.field("transaction_id") != "newcomer"), "test"
    )
    with pytest.raises(DataError, match="1 of .* no row .*fraudlens features backfill"):
        load_training_data(settings, *WINDOW)
