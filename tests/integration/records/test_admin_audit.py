"""The admin API on the PostgreSQL audit chain: a rule change is audited there, verify names edits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from admin_app import admin_app
from sqlalchemy import Engine, select, text

from fraudlens.records import PgAuditLog
from fraudlens.records.tables import audit
from fraudlens.scoring.rule_store import FileRuleStore
from fraudlens.security.auth import generate_api_key
from fraudlens.security.privacy import ErasureReport
from ray_apps.admin import AdminContext

pytestmark = pytest.mark.integration
KID, KEY, DIGEST = generate_api_key("admin01")


class FakePromoter:
    def __call__(self, version: str, override: str | None, actor: str) -> Any:
        raise AssertionError("not used")


def _erase(customer_id: str, actor: str) -> ErasureReport:
    raise AssertionError("not used")


@pytest.fixture
def client(records_engine: Engine, tmp_path: Path) -> Iterator[httpx.Client]:
    log = PgAuditLog(records_engine, b"k" * 32)
    admin = AdminContext(
        FileRuleStore(tmp_path / "rules.json"), log, tmp_path, FakePromoter(), _erase, 0
    )
    with admin_app(admin, KID, DIGEST, tmp_path) as http:
        yield http


def test_rule_change_is_audited_in_postgres_and_verify_names_the_edit(
    client: httpx.Client, records_engine: Engine
) -> None:
    auth = {"X-API-Key": KEY}
    put = client.request("PUT", "/v1/rules", json={"block": {"cards": []}}, headers=auth)
    assert put.status_code == 200, put.text
    with records_engine.connect() as conn:
        (row,) = conn.execute(select(audit)).mappings().all()
    assert row["action"] == "rule.changed" and row["hash"] == put.json()["audit_hash"]
    ok = client.request("GET", "/v1/audit/verify", headers=auth).json()
    assert ok["ok"] and ok["entries"] == 1 and ok["head"] == row["hash"]

    with records_engine.begin() as conn:
        conn.execute(text("UPDATE audit SET actor = 'someone-else' WHERE seq = 0"))
    tampered = client.request("GET", "/v1/audit/verify", headers=auth).json()
    assert not tampered["ok"]
    assert tampered["problems"] == ["seq 0: field actor: changed after it was hashed"]
