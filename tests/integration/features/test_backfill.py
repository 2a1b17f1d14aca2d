"""Spark backfill == stream job: same offline rows, same online store, same vectors."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fraudlens.features.batch import backfill
from fraudlens.features.delay import rows_delays
from fraudlens.features.offline import VIEWS, read_transaction_rows, read_view, view_key
from fraudlens.features.repo import materialize, offline_path
from fraudlens.features.store import historical_vectors, open_store
from fraudlens.features.stream import run_stream_job
from fraudlens.features.transaction_rows import TXN_VIEW
from fraudlens.settings import FeaturesSettings, Settings
from fraudlens.simulator import Simulation, write_simulation
from training.local_features import compute_features

pytestmark = pytest.mark.integration


def offline_rows(settings: Settings, view: str) -> pd.DataFrame:
    frame = read_view(offline_path(settings), view).to_pandas()  # type: ignore[arg-type]
    key = view_key(view)  # type: ignore[arg-type]
    for column in frame.columns.drop([key, "state_ts"]):
        frame[column] = frame[column].map(tuple)  # hashable, exact element values
    return frame.drop_duplicates().sort_values([key, "state_ts"]).reset_index(drop=True)


def feature_rows(settings: Settings) -> pd.DataFrame:
    frame = read_transaction_rows(offline_path(settings)).to_pandas()
    return frame.drop_duplicates().sort_values("transaction_id").reset_index(drop=True)


def test_spark_backfill_equals_stream(
    feature_sim: Simulation,
    make_feature_settings: Callable[..., Settings],
    produce_stream: Callable[..., int],
    online_state: Callable[[Settings, Simulation], dict[str, Any]],
    spark: Any,
    tmp_path: Path,
) -> None:
    # A matured delay other than the default: both runners must thread it through
    # (terminal retention, matured windows, the rows' recorded delay).
    delay = FeaturesSettings(matured_delay_days=3)
    streamed = make_feature_settings(name="streamed", features=delay)
    produce_stream(streamed.kafka, feature_sim)
    run_stream_job(
        streamed,
        threading.Event(),
        group_id=f"bf-{uuid.uuid4().hex[:6]}",
        idle_timeout=4.0,
        consumer_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    )

    batch = make_feature_settings(name="batch", features=delay)
    paths = write_simulation(feature_sim, tmp_path / "sim")
    result = backfill(batch, paths["transactions"], paths["labels"], spark=spark)
    assert result.transactions == len(feature_sim.transactions)
    assert result.labels == len(feature_sim.labels)

    for view in VIEWS:
        pd.testing.assert_frame_equal(offline_rows(batch, view), offline_rows(streamed, view))

    # Per-transaction feature rows: one per transaction, the same from both
    # runners, and equal to the in-memory oracle bit for bit.
    assert result.transaction_rows == len(feature_sim.transactions)
    rows = feature_rows(batch)
    assert rows.equals(feature_rows(streamed))
    oracle = compute_features(
        feature_sim.transactions, batch.feast.max_label_delay_days, matured_delay_days=3
    )
    oracle.insert(0, "transaction_id", feature_sim.transactions["transaction_id"].astype(str))
    oracle = oracle.sort_values("transaction_id").reset_index(drop=True)
    assert rows.drop(columns="txn_ts").equals(oracle)
    assert rows["term_matured_fraud_count_7d"].max() > 0  # the 3-day windows see frauds
    for settings in (batch, streamed):  # every row file says which delay made it
        files = rows_delays(offline_path(settings) / TXN_VIEW)
        assert set(files) == {3} and files[3] > 0

    times = feature_sim.transactions["event_time"]
    materialize(batch, times.min() - timedelta(days=1), feature_sim.labels["label_time"].max())
    assert online_state(batch, feature_sim) == online_state(streamed, feature_sim)

    sample = feature_sim.transactions.iloc[::5]
    pd.testing.assert_frame_equal(
        historical_vectors(open_store(batch), sample),
        historical_vectors(open_store(streamed), sample),
    )
