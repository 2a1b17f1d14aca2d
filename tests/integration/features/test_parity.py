"""Online (stream job -> push -> online read + ODFVs) == offline (historical join).

A simulated stream goes through the real embedded broker into the stream
feature job. After each micro-batch is pushed, the test reads the online
vector of every transaction in it through Feast's ODFVs (``online_vectors``)
and as serving does (``online_feature_columns``: one state read, the same
functions over the batch); the two must be the same bits. Then ``get_historical_features`` (``historical_vectors``)
computes the same transactions at the same timestamps from the offline store
the job wrote, and ``historical_rows`` reads the per-transaction feature rows
the job wrote (DuckDB; with Redis also through Feast's Spark offline store, which
must also give the same point-in-time join).
Every value must be the same bits, with no row dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fraudlens.features.registry import ALL_FEATURES, FEATURE_NAMES
from fraudlens.features.repo import offline_path
from fraudlens.features.state import TxnEvent
from fraudlens.features.store import (
    historical_rows,
    historical_vectors,
    online_feature_columns,
    online_vectors,
    open_store,
)
from fraudlens.features.stream import run_stream_job
from fraudlens.settings import FeaturesSettings, Settings
from fraudlens.simulator import Simulation

pytestmark = pytest.mark.integration

TOLERANCE = 0.0  # bit-exact: one definition, summed in the same order everywhere


def stream_and_read_online(
    settings: Settings, sim: Simulation, produce: Callable[..., int], **job: Any
) -> tuple[pd.DataFrame, Any]:
    """Run the stream job over the whole simulation; online vectors per transaction."""
    store = open_store(settings)
    by_id = sim.transactions.set_index("transaction_id", drop=False)
    vectors: dict[str, dict[str, float | int]] = {}

    def read_batch(txns: list[TxnEvent]) -> None:
        ids = [t.transaction_id for t in txns]
        requests = by_id.loc[ids].to_dict("records")
        through_odfvs = online_vectors(store, requests)
        serving = online_feature_columns(
            store, requests, matured_delay_days=settings.features.matured_delay_days
        )
        for name in FEATURE_NAMES:
            odfv = np.array([v[name] for v in through_odfvs], dtype=np.float64)
            assert np.array_equal(odfv, np.array(serving[name], dtype=np.float64), equal_nan=True)
        for txn_id, vector in zip(ids, through_odfvs, strict=True):
            vectors[txn_id] = vector

    produce(settings.kafka, sim)
    stats = run_stream_job(
        settings,
        threading.Event(),
        store=store,
        idle_timeout=4.0,
        on_batch=read_batch,
        consumer_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
        **job,
    )
    assert stats.late == 0
    assert stats.applied == len(sim.transactions) + len(sim.labels)
    online = pd.DataFrame.from_dict(vectors, orient="index")
    return online.loc[sim.transactions["transaction_id"]], store


def assert_same_vectors(online: pd.DataFrame, offline: pd.DataFrame) -> None:
    assert list(online.index) == list(offline["transaction_id"])
    for spec in ALL_FEATURES:
        a = online[spec.name].to_numpy(dtype=np.float64)
        b = offline[spec.name].to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~(np.abs(a - b) <= TOLERANCE))
        assert bad.size == 0, (
            f"{spec.name}: {bad.size} rows differ, e.g. {offline['transaction_id'].iloc[bad[0]]}:"
            f" online {a[bad[0]]!r} offline {b[bad[0]]!r}"
        )


@pytest.mark.parametrize("online_store", ["sqlite", "redis"])
def test_online_equals_historical(
    online_store: str,
    feature_sim: Simulation,
    make_feature_settings: Callable[..., Settings],
    produce_stream: Callable[..., int],
    request: pytest.FixtureRequest,
) -> None:
    features = None
    if online_store == "sqlite":
        # The job's encoder caches far smaller than its entities, and a matured
        # delay other than the default (3 days): applied to the registry, the
        # stream job's states and rows, and serving alike.
        features = FeaturesSettings(encoder_cache_entities=8, matured_delay_days=3)
    settings = make_feature_settings(online_store, features=features)
    online, store = stream_and_read_online(settings, feature_sim, produce_stream, batch_size=250)
    offline = historical_vectors(store, feature_sim.transactions)

    assert len(offline) == len(feature_sim.transactions)  # zero rows dropped
    assert set(FEATURE_NAMES) <= set(online.columns) and set(FEATURE_NAMES) <= set(offline)
    assert_same_vectors(online, offline)
    # The data exercise the features: labels arrived, terminals had known fraud.
    assert offline["term_fraud_count_30d"].max() > 0
    assert offline["card_tx_count_1h"].max() > 0
    assert (offline["card_km_from_prev"] > 0).any()
    for name in ("card_new_device_30d", "card_new_ip_30d"):  # known, new, no device
        assert set(offline[name]) == {-1, 0, 1}, name
    if online_store == "sqlite":  # 3-day matured windows see labelled frauds in 14 days
        assert offline["term_matured_fraud_count_7d"].max() > 0
    assert_point_in_time(offline, feature_sim)

    # The training path: the feature rows the job wrote, as-of joined.
    rows = historical_rows(store, feature_sim.transactions, FEATURE_NAMES)
    assert_same_vectors(online, rows)
    if online_store == "redis":
        # The same folder through Feast's Spark offline store (production
        # choice, Redis only); the JVM starts only for this case.
        request.getfixturevalue("spark")
        on_spark = make_feature_settings(
            "redis", name="spark", offline_store="spark", offline_path=offline_path(settings)
        )
        spark_store = open_store(on_spark)
        spark_rows = historical_rows(spark_store, feature_sim.transactions, FEATURE_NAMES)
        assert len(spark_rows) == len(feature_sim.transactions)
        assert_same_vectors(online, spark_rows)
        assert spark_rows.equals(rows)
        # And the point-in-time join over the state rows + the ODFVs, on Spark.
        assert historical_vectors(spark_store, feature_sim.transactions).equals(offline)


def assert_point_in_time(offline: pd.DataFrame, sim: Simulation) -> None:
    """Recompute two features naively from the raw frames and compare.

    A fraud label counts for a transaction at time t only if it arrived
    before t (``label_time < t``), whatever the later labels say.
    """
    txns = sim.transactions.set_index("transaction_id")
    labels = sim.labels.merge(
        txns[["terminal_id", "event_time"]], left_on="transaction_id", right_index=True
    )
    by_id = offline.set_index("transaction_id")
    checked = 0
    for txn_id, row in txns.iloc[::3].iterrows():
        t, day = row["event_time"], row["event_time"].floor("D")
        known = labels[
            (labels["terminal_id"] == row["terminal_id"])
            & (labels["label_time"] < t)
            & (labels["event_time"] >= day - pd.Timedelta(days=30))
            & (labels["event_time"] < day)
        ]
        later = labels[(labels["terminal_id"] == row["terminal_id"]) & (labels["label_time"] >= t)]
        checked += len(later) > 0
        assert by_id.at[txn_id, "term_fraud_count_30d"] == len(known), txn_id
        card = txns[(txns["card_token"] == row["card_token"]) & (txns["event_time"] < t)]
        in_hour = card[card["event_time"] >= t - pd.Timedelta(hours=1)]
        assert by_id.at[txn_id, "card_tx_count_1h"] == len(in_hour), txn_id
        # Device novelty from the raw device ids of the card's last 30 days.
        device = row["device_id"]
        month = card[card["event_time"] >= t - pd.Timedelta(days=30)]
        new = -1 if pd.isna(device) else int(device not in set(month["device_id"].dropna()))
        assert by_id.at[txn_id, "card_new_device_30d"] == new, txn_id
    assert checked > 0  # some transactions had labels arriving only later
