"""Chunked feature fetches give the rows of one big join, in order, chunk by chunk."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudlens.errors import DataError
from training.dataset import in_time_chunks, read_history


def history(rows: int = 500, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-05-01", tz="UTC")
    times = start + pd.to_timedelta(rng.integers(0, 40 * 86400, rows), unit="s")
    return pd.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(rows)],
            "event_time": times,  # not sorted: order must come back as given
            "amount": rng.uniform(0, 100, rows),
        }
    )


def fetch_features(part: pd.DataFrame) -> pd.DataFrame:
    """A row-wise stand-in for Feast's point-in-time join."""
    return pd.DataFrame(
        {
            "transaction_id": part["transaction_id"].to_numpy(),
            "double": part["amount"].to_numpy() * 2,
            "hour": part["event_time"].dt.hour.to_numpy(),
        }
    )


@pytest.mark.parametrize("days", [1, 7, 100])
def test_chunks_equal_one_join(days: int, caplog: pytest.LogCaptureFixture) -> None:
    frame = history()
    sizes: list[int] = []

    def fetch(part: pd.DataFrame) -> pd.DataFrame:
        sizes.append(len(part))
        span = part["event_time"].max() - part["event_time"].min()
        assert span < pd.Timedelta(days=days)
        return fetch_features(part)

    with caplog.at_level(logging.INFO, logger="training.dataset"):
        chunked = in_time_chunks(frame, days, fetch)
    pd.testing.assert_frame_equal(chunked, fetch_features(frame))
    assert sum(sizes) == len(frame)
    assert len(sizes) == (1 if days == 100 else -(-40 // days))  # 40 days of data
    assert f"chunk {len(sizes)}/{len(sizes)}" in caplog.text and "rows in" in caplog.text


def test_a_chunk_losing_rows_is_an_error() -> None:
    with pytest.raises(DataError, match="rows in"):
        in_time_chunks(history(), 7, lambda part: fetch_features(part).iloc[1:])


def test_read_history_keeps_only_the_range(tmp_path: Path) -> None:
    frame = history().sort_values("event_time").reset_index(drop=True)
    frame.to_parquet(tmp_path / "transactions.parquet")
    labels = pd.DataFrame(
        {
            "transaction_id": ["t1"],
            "is_fraud": [True],
            "label_time": [pd.Timestamp("2026-07-01", tz="UTC")],
            "fraud_scenario": [None],
        }
    )
    labels.to_parquet(tmp_path / "labels.parquet")
    lo, hi = pd.Timestamp("2026-05-10", tz="UTC"), pd.Timestamp("2026-05-20", tz="UTC")
    rows = read_history(tmp_path, lo, hi)
    expected = frame[(frame["event_time"] >= lo) & (frame["event_time"] < hi)]
    assert rows["transaction_id"].tolist() == expected["transaction_id"].tolist()
    assert len(read_history(tmp_path, None, hi)) == int((frame["event_time"] < hi).sum())
