"""Online pushes of the stream job survive transient store errors (retries with backoff)."""

from __future__ import annotations

import logging

import pytest
from flaky_store import FlakyStore
from redis.exceptions import ConnectionError as RedisConnectionError

from fraudlens.errors import FeatureStoreError
from fraudlens.features.fold import StateFolder
from fraudlens.features.metrics import StreamMetrics
from fraudlens.features.retry import RetryPolicy
from fraudlens.features.sink import FeastSink
from fraudlens.features.state import US_PER_DAY, TxnEvent


def _rows() -> list[dict[str, object]]:
    folder = StateFolder(90 * US_PER_DAY)
    events = [
        TxnEvent(f"x{i}", 1_780_000_000_000_000 + i, f"tok{i % 2}", "t1", "m", "FR", 1.5)
        for i in range(4)
    ]
    return folder.apply(events).card_rows


def _sink(store: FlakyStore, sleeps: list[float], attempts: int = 4) -> FeastSink:
    sink = FeastSink(
        store,
        None,
        "test",
        retry=RetryPolicy(
            attempts=attempts, initial_seconds=0.5, max_seconds=2.0, sleep=sleeps.append
        ),
        metrics=StreamMetrics(),
    )
    return sink


def _retries(sink: FeastSink) -> float:
    assert sink.metrics is not None
    value = sink.metrics.registry.get_sample_value("fraudlens_features_online_write_retries_total")
    return value or 0.0


def test_push_retries_a_redis_blip_then_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore(failures=2, error=RedisConnectionError("Connection refused"))
    sleeps: list[float] = []
    sink = _sink(store, sleeps)
    rows = _rows()
    with caplog.at_level(logging.WARNING, logger="fraudlens.features.retry"):
        sink.push("card_state", rows)
    assert store.calls == 3
    assert store.pushed == [("card_state_push", len(rows))]
    assert _retries(sink) == 2
    assert len(sleeps) == 2
    # exponential: initial 0.5 s then 1.0 s, each plus up to 0.2 s of jitter
    assert 0.5 <= sleeps[0] <= 0.7 and 1.0 <= sleeps[1] <= 1.2
    retried = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert [r.getMessage().split(" (")[1][:20] for r in retried] == [
        "attempt 1 of 4), ret",
        "attempt 2 of 4), ret",
    ]


def test_push_gives_up_after_the_last_attempt() -> None:
    store = FlakyStore(failures=10, error=TimeoutError("timed out"))
    sleeps: list[float] = []
    sink = _sink(store, sleeps, attempts=3)
    with pytest.raises(FeatureStoreError, match="push to card_state_push failed: timed out"):
        sink.push("card_state", _rows())
    assert store.calls == 3 and _retries(sink) == 2 and store.pushed == []


def test_push_does_not_retry_a_non_transient_error() -> None:
    store = FlakyStore(failures=1, error=ValueError("bad column"))
    sleeps: list[float] = []
    sink = _sink(store, sleeps)
    with pytest.raises(FeatureStoreError, match="bad column"):
        sink.push("card_state", _rows())
    assert store.calls == 1 and sleeps == [] and _retries(sink) == 0


def test_wait_is_capped() -> None:
    calls: list[float] = []
    policy = RetryPolicy(attempts=8, initial_seconds=1.0, max_seconds=3.0, jitter_seconds=0.0)
    store = FlakyStore(failures=7, error=ConnectionError("reset"))
    policy.call("x", lambda: store.push("s", []), sleep=calls.append)
    assert calls == [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0]
