"""Two API processes with their limits in one Redis admit no more than the configured limit.

Each replica is a real uvicorn process wired from settings as in production
(``authenticator_for``: API keys and the rate limiter). With per-replica
storage (``memory://``) the same two processes admit twice the limit, so the
shared figure is the storage's doing, not the load's.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from http_ready import wait_ready
from replica_workers import serve_scoring_api
from transactions import make_txn

from fraudlens.kafka import free_port
from fraudlens.redis_server import EmbeddedRedis
from fraudlens.security.auth import generate_api_key
from fraudlens.settings import Settings

pytestmark = pytest.mark.integration
RATE, BURST = 1.0, 20  # a 20 s window admitting 20 requests per caller
REQUESTS = 60


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


def _statuses(storage: str, tmp_path: Path) -> Counter[int]:
    """Start two replicas on ``storage``; send REQUESTS with one key, alternating."""
    key_id, key, digest = generate_api_key("scorer1")
    settings = Settings(
        data_dir=tmp_path,
        security={
            "api_keys": {key_id: {"role": "scorer", "sha256": digest}},
            "rate_limit_per_second": RATE,
            "rate_limit_burst": BURST,
            "rate_limit_storage": storage,
        },
    )
    spawn = multiprocessing.get_context("spawn")
    ports = [free_port() for _ in range(2)]
    replicas = [spawn.Process(target=serve_scoring_api, args=(settings, p)) for p in ports]
    for replica in replicas:
        replica.start()
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, replica in zip(urls, replicas, strict=True):
            wait_ready(url, 90, replica.is_alive)
        statuses: Counter[int] = Counter()
        with httpx.Client(timeout=10.0, headers={"X-API-Key": key}) as client:
            for i in range(REQUESTS):
                body = make_txn(i, transaction_id=f"tx-rl-{i:03d}").model_dump(
                    mode="json", exclude_none=True
                )
                statuses[client.post(f"{urls[i % 2]}/v1/score", json=body).status_code] += 1
        return statuses
    finally:
        for replica in replicas:
            replica.kill()
            replica.join(10)


def test_two_replicas_on_one_redis_admit_the_limit_once(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    shared = _statuses(f"redis://{redis_server.url}/0", tmp_path / "shared")
    assert shared == {200: BURST, 429: REQUESTS - BURST}
    alone = _statuses("memory://", tmp_path / "alone")  # each replica counts for itself
    assert alone == {200: 2 * BURST, 429: REQUESTS - 2 * BURST}
