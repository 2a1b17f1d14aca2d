"""Feast's Spark offline store == its DuckDB offline store, over the same Parquet folders.

The offline folder is filled as the stream job fills it (fold + ``FeastSink``).
Two Feast repos read it: the embedded one (DuckDB) and the production one
(Redis online, Spark offline on the session's local Spark). ``historical_rows``
must give the same transactions from both, rows counted in and out, every
feature bit-equal (``DataFrame.equals``) and equal to the in-memory oracle; on
Spark as on DuckDB, a transaction without a feature row is refused. Then
``materialize`` through Spark fills Redis with the state the sink pushed.
The online side of the row check is in test_parity.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from feast.infra.offline_stores.contrib.spark_offline_store.spark import SparkOfflineStoreConfig
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

from fraudlens.errors import DataError
from fraudlens.features.fold import StateFolder
from fraudlens.features.registry import FEATURE_NAMES
from fraudlens.features.repo import materialize, offline_path
from fraudlens.features.sink import FeastSink
from fraudlens.features.store import historical_rows, open_store
from fraudlens.features.stream import to_event
from fraudlens.schema import Label, Transaction
from fraudlens.settings import Settings
from fraudlens.simulator import Simulation, label_records, transaction_records
from training.local_features import compute_features

pytestmark = pytest.mark.integration

NAMES = list(FEATURE_NAMES)


def fill_offline(settings: Settings, sim: Simulation) -> None:
    """Fold the whole history and write its rows as the stream job's sink does."""
    events = [
        to_event(Transaction.model_validate(r)) for r in transaction_records(sim.transactions)
    ]
    events += [to_event(Label.model_validate(r)) for r in label_records(sim.labels)]
    folder = StateFolder(settings.feast.max_label_delay_days * 86_400 * 10**6)
    FeastSink(open_store(settings), offline_path(settings), "test").write(folder.apply(events))


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("transaction_id").reset_index(drop=True)


def assert_equal_frames(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """``a.equals(b)`` (same columns, dtypes and bits); the message names what differs."""
    differ = [c for c in a.columns if c not in b or not a[c].equals(b[c])]
    assert a.equals(b), f"columns differ: {differ or list(b.columns.difference(a.columns))}"


def test_spark_offline_rows_equal_duckdb(
    feature_sim: Simulation,
    make_feature_settings: Callable[..., Settings],
    online_state: Callable[[Settings, Simulation], dict[str, Any]],
    spark: Any,
) -> None:
    duck = make_feature_settings(name="duckdb")
    fill_offline(duck, feature_sim)
    on_spark = make_feature_settings(
        "redis", name="spark", offline_store="spark", offline_path=offline_path(duck)
    )
    spark_store = open_store(on_spark)
    assert isinstance(spark_store.config.offline_store, SparkOfflineStoreConfig)
    source = spark_store.get_data_source("transaction_feature_files")
    assert isinstance(source, SparkSource) and source.file_format == "parquet"

    txns = feature_sim.transactions
    rows_duck = historical_rows(open_store(duck), txns, NAMES)
    rows_spark = historical_rows(spark_store, txns, NAMES)

    assert len(rows_duck) == len(rows_spark) == len(txns)  # rows in == rows out
    assert list(rows_spark["transaction_id"]) == list(txns["transaction_id"])
    assert_equal_frames(by_id(rows_spark), by_id(rows_duck))
    oracle = compute_features(txns, duck.feast.max_label_delay_days)[NAMES]
    oracle.insert(0, "transaction_id", txns["transaction_id"].astype(str))
    assert_equal_frames(by_id(rows_spark)[["transaction_id", *NAMES]], by_id(oracle))
    # The data exercise the features (labels arrived, cards moved).
    assert rows_spark["term_fraud_count_30d"].max() > 0
    assert (rows_spark["card_km_from_prev"] > 0).any()

    never = txns.iloc[[0]].assign(transaction_id="never-backfilled")
    with pytest.raises(DataError, match="1 of 2 transactions have no row"):
        historical_rows(spark_store, pd.concat([txns.iloc[[1]], never]), NAMES)

    # Materialize reads the state rows through Spark: Redis then holds the
    # state the sink pushed to SQLite, list for list.
    start = txns["event_time"].min() - timedelta(days=1)
    materialize(on_spark, start, feature_sim.labels["label_time"].max())
    assert online_state(on_spark, feature_sim) == online_state(duck, feature_sim)
