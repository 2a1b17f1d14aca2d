"""Rate limits shared by two replicas through one real Redis, and a Redis outage."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudlens.errors import RateLimitError
from fraudlens.redis_server import EmbeddedRedis
from fraudlens.security.ratelimit import SharedRateLimiter

pytestmark = pytest.mark.integration


class CountingMetric:
    """Records ``inc`` calls like a Prometheus counter."""

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, value: float = 1.0, labels: object = None) -> None:
        self.value += value


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A private redis-server (this module stops and restarts it)."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


def _admitted(
    limiters: list[SharedRateLimiter], caller: str, tries: int, rate: float | None = None
) -> int:
    admitted = 0
    for i in range(tries):
        try:
            limiters[i % len(limiters)].check(caller, rate)
            admitted += 1
        except RateLimitError as exc:
            assert 0 < exc.retry_after <= 10.0
    return admitted


def test_two_replicas_share_one_budget(redis_server: EmbeddedRedis) -> None:
    uri = f"redis://{redis_server.url}/0"
    # 5 requests/s, burst 50: a 10 s window admitting 50 requests per caller.
    replicas = [SharedRateLimiter(uri, rate=5.0, burst=50, timeout=1.0) for _ in range(2)]
    assert _admitted(replicas, "api_key:a", 120) == 50  # not 2 x 50
    assert _admitted(replicas, "api_key:b", 30, rate=1.0) == 10  # per-key override: 1/s
    assert _admitted(replicas, "api_key:c", 60) == 50  # callers do not share a budget


def test_a_redis_outage_fails_open_logged_and_counted(
    redis_server: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    errors = CountingMetric()
    limiter = SharedRateLimiter(
        f"redis://{redis_server.url}/0", rate=1.0, burst=2, errors=errors, timeout=0.5
    )
    assert _admitted([limiter], "api_key:a", 3) == 2
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="fraudlens.security.ratelimit"):
        assert _admitted([limiter], "api_key:a", 4) == 4  # fail open
    assert errors.value == 4
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "fail open" in warnings[0]  # logged once per 10 s
    redis_server.start()  # same port; the client reconnects, limits apply again
    assert _admitted([limiter], "api_key:z", 3) == 2
    assert errors.value == 4
