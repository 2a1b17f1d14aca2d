"""A Redis restart during an online push: the sink retries and the rows land."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
import redis

from fraudlens.features.fold import StateFolder
from fraudlens.features.metrics import StreamMetrics
from fraudlens.features.repo import apply
from fraudlens.features.retry import RetryPolicy
from fraudlens.features.sink import FeastSink
from fraudlens.features.state import US_PER_DAY, TxnEvent
from fraudlens.features.store import open_store
from fraudlens.redis_server import EmbeddedRedis
from fraudlens.settings import FeastSettings, Settings

pytestmark = pytest.mark.integration


def test_push_survives_a_redis_restart(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        settings = Settings(
            data_dir=tmp_path / "data",
            feast=FeastSettings(
                online_store="redis",
                redis_connection_string=server.url,
                project=f"fl_retry_{os.getpid()}_{time.monotonic_ns() % 10**9}",
            ),
        )
        apply(settings)
        client = redis.Redis(host="127.0.0.1", port=server.port)
        restarts: list[float] = []

        def restart_redis(seconds: float) -> None:  # the backoff sleep: Redis comes back
            restarts.append(seconds)
            server.start()

        metrics = StreamMetrics()
        store = open_store(settings)
        sink = FeastSink(
            store,
            None,
            "retry-test",
            retry=RetryPolicy(attempts=4, initial_seconds=0.05, sleep=restart_redis),
            metrics=metrics,
        )
        events = [
            TxnEvent(f"x{i}", 1_780_000_000_000_000 + i, f"tok{i % 3}", "t1", "m", "FR", 2.0)
            for i in range(6)
        ]
        result = StateFolder(90 * US_PER_DAY).apply(events)
        sink.write(result)  # connects once while Redis is up
        client.flushall()
        server.stop()  # the blip: the next push finds no server
        with caplog.at_level(logging.WARNING, logger="fraudlens.features.retry"):
            counts = sink.write(result)
        assert counts["card_state"] == (0, 3)
        assert len(restarts) == 1
        assert (
            metrics.registry.get_sample_value("fraudlens_features_online_write_retries_total") == 1
        )
        retried = [r.getMessage() for r in caplog.records if r.name == "fraudlens.features.retry"]
        assert len(retried) == 1 and "(attempt 1 of 4), retrying" in retried[0]
        assert client.dbsize() > 0  # the rows landed after the restart
        client.close()
        # Feast keeps its Redis client open; close it while the server is known.
        store._get_provider().online_store._client.close()
