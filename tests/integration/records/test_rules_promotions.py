"""Live rules in the ``rules`` table (replicas agree), the promotion history, and
``GET /v1/decisions`` on the ``decisions`` table.

Two API apps stand for two replicas, each with its own ``PgRuleStore`` on the
same database: a PUT on one is served by the other after its next poll. A
promotion stored by the gate is printed by ``fraudlens records promotions``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from admin_app import admin_app
from records_data import decision_records
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from drift.synthetic import decision_rows, synthetic_rows
from fraudlens.cli import app
from fraudlens.errors import ConfigError
from fraudlens.records import upsert_decisions
from fraudlens.records.rules import PgRuleStore
from fraudlens.records.tables import rules
from fraudlens.scoring.config import Rules
from fraudlens.scoring.rule_store import rule_store_from_settings
from fraudlens.security.audit import AuditLog
from fraudlens.security.auth import generate_api_key
from fraudlens.security.privacy import ErasureReport
from fraudlens.settings import Settings
from ray_apps.admin import AdminContext
from training.promote import GateDecision, store_promotion

pytestmark = pytest.mark.integration
KID, KEY, DIGEST = generate_api_key("admin02")
AUTH = {"X-API-Key": KEY}
BLOCKED = "tok_" + "b" * 20
DAY = pd.Timestamp("2026-07-10", tz="UTC")
LISTED, OTHER = "tok_k1_" + "l" * 32, "tok_k1_" + "o" * 32


def _unused(*_: Any) -> ErasureReport:
    raise AssertionError("not used")


@pytest.fixture
def replicas(
    records_engine: Engine, tmp_path: Path
) -> Iterator[list[tuple[httpx.Client, AdminContext]]]:
    """Two apps, each with its own scoring service and rule store on one database."""
    admins = [
        AdminContext(
            PgRuleStore(records_engine),
            AuditLog(tmp_path / f"audit-{n}.jsonl"),
            tmp_path,
            _unused,
            _unused,
            0,
        )
        for n in range(2)
    ]
    with (
        admin_app(admins[0], KID, DIGEST, tmp_path) as first,
        admin_app(admins[1], KID, DIGEST, tmp_path) as second,
    ):
        yield [(first, admins[0]), (second, admins[1])]


def test_a_rule_change_on_one_replica_is_served_by_the_other(
    replicas: list[tuple[httpx.Client, AdminContext]], records_engine: Engine
) -> None:
    (first, _), (second, second_admin) = replicas
    body = {"block": {"cards": [BLOCKED]}}
    put = first.request("PUT", "/v1/rules", json=body, headers=AUTH)
    assert put.status_code == 200, put.text
    version = put.json()["version"]
    assert put.json()["applied_version"] == version
    before = second.request("GET", "/v1/rules", headers=AUTH).json()
    assert before["version"] == version and before["applied_version"] < version
    assert second_admin.watcher is not None and second_admin.watcher.poll()
    after = second.request("GET", "/v1/rules", headers=AUTH).json()
    assert after["applied_version"] == version and after["rules"]["block"]["cards"] == [BLOCKED]
    with records_engine.connect() as conn:
        stored = conn.execute(select(rules).where(rules.c.version == version)).mappings().one()
    assert (
        stored["rule_set"]["block"]["cards"] == [BLOCKED] and stored["author"] == f"api_key:{KID}"
    )


def test_store_keeps_every_version_and_the_newest_wins(records_engine: Engine) -> None:
    a, b = PgRuleStore(records_engine), PgRuleStore(records_engine)
    start = a.version()
    one = a.put(Rules.model_validate({"block": {"cards": [BLOCKED]}}), "alice")
    two = b.put(Rules(), "bob")
    assert (one.version, two.version) == (start + 1, start + 2)
    newest = a.get()
    assert newest is not None and newest.version == two.version and newest.updated_by == "bob"
    assert [s.updated_by for s in b.history(2)] == ["bob", "alice"]
    with records_engine.begin() as conn:
        conn.execute(rules.insert().values(rule_set={"block": "not a list"}, author="mallory"))
    with pytest.raises(ConfigError, match="damaged"):
        a.get()


def test_settings_pick_the_postgres_store(records_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        serve={"rules_store": "postgres"},
        records={"database_url": records_url},
    )
    store = rule_store_from_settings(settings)
    assert isinstance(store, PgRuleStore)
    store.engine.dispose()


def test_promotions_are_stored_and_printed(
    records_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path, records={"database_url": records_url})
    store_promotion(settings, GateDecision("7", "6", True, ["beats"], None, 10, {"ap": 0.8}), "ops")
    nan = {"ap": 0.7, "recall": float("nan")}  # JSONB holds no NaN: left out
    store_promotion(settings, GateDecision("8", "7", True, ["overridden"], None, 0, nan), "alice")
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FRAUDLENS_RECORDS__DATABASE_URL", records_url)
    result = CliRunner().invoke(app, ["records", "promotions", "--limit", "5"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["version"], r["previous_version"], r["actor"]) for r in rows] == [
        ("8", "7", "alice"),
        ("7", "6", "ops"),
    ]
    assert rows[0]["alias"] == "champion" and rows[0]["metrics"] == {"ap": 0.7}


def test_decisions_are_listed_from_postgres(records_engine: Engine, tmp_path: Path) -> None:
    rows = decision_rows(synthetic_rows(30, seed=4, columns={"amount": "float64"}), "5", DAY, 600)
    rows["card_token"] = [LISTED if i % 3 == 0 else OTHER for i in range(30)]
    rows["transaction_id"] = "listed-" + rows["transaction_id"]
    with records_engine.begin() as conn:
        upsert_decisions(conn, decision_records(rows))
    admin = AdminContext(
        PgRuleStore(records_engine), AuditLog(tmp_path / "a.jsonl"), tmp_path, _unused, _unused
    )
    admin.records = records_engine
    with admin_app(admin, KID, DIGEST, tmp_path) as client:
        got = client.get("/v1/decisions", params={"card_token": LISTED, "limit": 5}, headers=AUTH)
        assert got.status_code == 200, got.text
        listed = got.json()["decisions"]
        later = client.get(
            "/v1/decisions",
            params={"card_token": LISTED, "since": str(DAY + pd.Timedelta(minutes=5))},
            headers=AUTH,
        ).json()["decisions"]
    assert len(listed) == 5 and {d["card_token"] for d in listed} == {LISTED}
    times = [d["scored_at"] for d in listed]
    assert times == sorted(times, reverse=True)  # newest first
    assert listed[0]["transaction_id"] == "listed-t0000027"
    assert 0 < len(later) < 10 and all(d["event_time"] >= "2026-07-10T00:05" for d in later)
