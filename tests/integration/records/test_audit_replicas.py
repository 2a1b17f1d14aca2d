"""Two API replicas and a retraining job extend one audit chain concurrently (issue 13).

Each replica is a real uvicorn process wired from settings as in production
(PostgreSQL rule store and audit chain); their rule changes race the job's
appends, then ``fraudlens audit verify`` checks the chain end to end and names
a tampered row.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from http_ready import wait_ready
from records_workers import append_as_job, replica_settings, serve_admin_api
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from fraudlens.cli import app as cli
from fraudlens.kafka import free_port
from fraudlens.records.tables import audit, rules
from fraudlens.security.auth import generate_api_key

pytestmark = pytest.mark.integration
AUDIT_KEY = "replica-audit-key-0123456789abcdef-01"
CHANGES = 20  # rule changes per replica
JOB_ENTRIES = 30


def test_two_replicas_and_a_job_extend_one_verifiable_chain(
    records_url: str, records_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {f"rep{n}": generate_api_key(f"rep{n}") for n in range(2)}
    settings = replica_settings(
        records_url, tmp_path, AUDIT_KEY, {kid: digest for kid, (_, _, digest) in keys.items()}
    )
    spawn = multiprocessing.get_context("spawn")
    go = spawn.Event()
    ports = [free_port() for _ in keys]
    replicas = [spawn.Process(target=serve_admin_api, args=(settings, port)) for port in ports]
    job = spawn.Process(target=append_as_job, args=(settings, JOB_ENTRIES, go))
    for process in (*replicas, job):
        process.start()
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, replica in zip(urls, replicas, strict=True):
            wait_ready(url, 90, replica.is_alive)

        def change(n: int) -> int:
            kid = f"rep{n % 2}"
            body = {"limits": [{"name": "big", "field": "amount", "max": 100 + n}]}
            response = httpx.put(
                f"{urls[n % 2]}/v1/rules", json=body, headers={"X-API-Key": keys[kid][1]}
            )
            assert response.status_code == 200, response.text
            return int(response.json()["version"])

        go.set()  # the job appends while both replicas change rules
        with ThreadPoolExecutor(6) as pool:
            versions = list(pool.map(change, range(2 * CHANGES)))
        job.join(60)
        assert job.exitcode == 0
    finally:
        for replica in replicas:
            replica.kill()
            replica.join(10)

    assert sorted(versions) == list(range(1, 2 * CHANGES + 1))  # one database sequence
    with records_engine.connect() as conn:
        rows = conn.execute(select(audit.c.seq, audit.c.actor, audit.c.target)).all()
        stored = conn.execute(select(rules.c.version)).scalars().all()
    assert sorted(seq for seq, _, _ in rows) == list(range(2 * CHANGES + JOB_ENTRIES))
    assert Counter(actor for _, actor, _ in rows) == {
        "api_key:rep0": CHANGES,
        "api_key:rep1": CHANGES,
        "job:retrain": JOB_ENTRIES,
    }
    audited = {target for _, actor, target in rows if actor.startswith("api_key:")}
    assert audited == {f"rules version {v}" for v in stored} and len(stored) == 2 * CHANGES
    # The writers' entries interleave in the chain: concurrent appends, not turns.
    order = [actor for _, actor, _ in sorted(rows)]
    turns = sum(1 for a, b in zip(order, order[1:], strict=False) if a != b)
    assert turns > 2, order

    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FRAUDLENS_RECORDS__DATABASE_URL", records_url)
    monkeypatch.setenv("FRAUDLENS_SECURITY__AUDIT_HMAC_KEY", AUDIT_KEY)
    runner = CliRunner()
    verified = runner.invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert f'"entries": {2 * CHANGES + JOB_ENTRIES}' in verified.output

    with records_engine.begin() as conn:
        conn.execute(text("UPDATE audit SET actor = 'mallory' WHERE seq = 57"))
    tampered = runner.invoke(cli, ["audit", "verify"])
    assert tampered.exit_code == 1
    assert "seq 57: field actor: changed after it was hashed" in tampered.output
