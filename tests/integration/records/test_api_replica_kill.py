"""A scoring replica killed under load loses no decision it answered (issue 13)."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from http_ready import wait_ready
from records_data import decision_rows_per_transaction
from records_workers import serve_scoring_api
from sqlalchemy import Engine
from transactions import make_txn

from fraudlens.kafka import free_port
from fraudlens.records.sink import run_decision_sink
from fraudlens.settings import KafkaSettings, Settings

pytestmark = pytest.mark.integration
KILL_AFTER = 300  # answered requests before the SIGKILL


def test_sigkilled_replica_lost_no_answered_decision(
    kafka_settings: KafkaSettings, records_url: str, records_engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ctx = multiprocessing.get_context("spawn")
    api = ctx.Process(target=serve_scoring_api, args=(kafka_settings, tmp_path, port))
    api.start()
    wait_ready(url, 90, api.is_alive)

    answered: list[str] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        txn = make_txn(i, transaction_id=f"tx-kill-{i:05d}", card_token="tok_k1_" + "a" * 32)
        body = txn.model_dump(mode="json", exclude_none=True)
        try:
            response = client.post("/v1/score", json=body)
        except httpx.HTTPError:
            return  # the replica died before answering: no promise was made
        if response.status_code == 200:
            with lock:
                answered.append(response.json()["transaction_id"])
                if len(answered) == KILL_AFTER:
                    api.kill()  # SIGKILL under load: requests are in flight

    # One pooled client: a client per request spends its time building TLS contexts.
    with httpx.Client(base_url=url, timeout=10.0) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(5 * KILL_AFTER)))
    api.join(10)
    assert KILL_AFTER <= len(answered) < 5 * KILL_AFTER, "killed mid-run, not after it"

    settings = Settings(
        data_dir=tmp_path, kafka=kafka_settings, records={"database_url": records_url}
    )
    run_decision_sink(settings, idle_timeout=3.0)
    stored = decision_rows_per_transaction(records_engine, "tx-kill-")
    lost = sorted(set(answered) - set(stored))
    assert not lost, f"{len(lost)} answered decisions were lost, e.g. {lost[:3]}"
    assert max(stored.values()) == 1  # exactly one row per transaction
