"""Admin and analyst endpoints of the real app over fakes: decisions, promotion, rules, erasure, audit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from asgi_client import AsgiClient
from fake_api import TEST_TOKENIZER, fake_api_context, fake_service
from transactions import make_txn

from fraudlens.errors import ConfigError, DataError, ModelNotFoundError
from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.config import Rules
from fraudlens.scoring.decision_log import DecisionLog, read_log
from fraudlens.scoring.rule_store import FileRuleStore, RedisRuleStore, RuleWatcher
from fraudlens.security.audit import AuditLog, verify
from fraudlens.security.auth import Authenticator, generate_api_key
from fraudlens.security.privacy import ErasureReport, ParquetEraser, erase_customer
from fraudlens.security.roles import Role
from fraudlens.settings import Settings
from ray_apps.admin import AdminContext
from ray_apps.api import create_api
from ray_apps.decisions import DecisionQuery, read_decisions

TOKENIZER = TEST_TOKENIZER
PAN = "4111 1111 1111 1111"
KEYS = {role: generate_api_key(f"{role.value}01") for role in Role}
CARD_A, CARD_B = "tok_k1_" + "a" * 32, "tok_k1_" + "b" * 32


def headers(role: Role) -> dict[str, str]:
    return {"X-API-Key": KEYS[role][1]}


class Client(AsgiClient):
    def call(self, method: str, url: str, role: Role | None = None, **kw: Any) -> httpx.Response:
        kw.setdefault("headers", headers(role) if role else {})
        return self.request(method, url, **kw)


class FakePromoter:
    """Stands in for the MLflow gate: champion "1", version "2" fails the gate."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str]] = []

    def __call__(self, version: str, override: str | None, actor: str) -> Any:
        from training.promote import GateDecision

        self.calls.append((version, override, actor))
        if version == "404":
            raise ModelNotFoundError("no such version")
        if version == "409":
            raise DataError("no holdout newer than both models' training data")
        if override:
            return GateDecision(version, "1", True, [f"gate overridden: {override}"])
        return GateDecision(version, "1", False, ["auc 0.80 does not beat champion 0.85"])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    keys = {kid: {"role": r.value, "sha256": digest} for r, (kid, _, digest) in KEYS.items()}
    return Settings(data_dir=tmp_path, security={"api_keys": keys})


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ScoringService]:
    svc = fake_service(decisions=DecisionLog(tmp_path / "decisions", "api"))
    yield svc
    svc.close()


@pytest.fixture
def admin(tmp_path: Path, settings: Settings) -> AdminContext:
    audit = AuditLog(tmp_path / "audit" / "audit.jsonl", b"k" * 32, fsync=False)

    def erase(customer_id: str, actor: str) -> ErasureReport:
        eraser = ParquetEraser("offline_store", [tmp_path / "offline"])
        return erase_customer(settings, customer_id, actor=actor, erasers=[eraser], audit=audit)

    store = FileRuleStore(tmp_path / "rules" / "rules.json")
    return AdminContext(store, audit, tmp_path / "decisions", FakePromoter(), erase, 0)


@pytest.fixture
def client(service: ScoringService, admin: AdminContext, settings: Settings) -> Iterator[Client]:
    ctx = fake_api_context(
        service, authenticator=Authenticator.from_settings(settings), admin=admin
    )
    http = Client(create_api(ctx))
    yield http
    http.close()


def txn(tid: str, card: str | None = CARD_A, amount: float = 40.0, **extra: Any) -> dict[str, Any]:
    body = {
        "transaction_id": tid,
        "event_time": "2026-06-03T14:00:00Z",
        "card_token": card,
        "customer_id": "c1",
        "terminal_id": "T1",
        "merchant_id": "M1",
        "mcc": "5411",
        "amount": amount,
        "currency": "EUR",
        "channel": "card_present",
        "entry_mode": "chip",
        "country": "FR",
        **extra,
    }
    return {k: v for k, v in body.items() if v is not None}


def audit_entries(admin: AdminContext) -> list[dict[str, Any]]:
    return [json.loads(line) for line in admin.audit.path.read_text().splitlines()]


def test_rules_put_applies_at_once_and_is_audited(client: Client, admin: AdminContext) -> None:
    assert client.call("POST", "/v1/score", Role.ADMIN, json=txn("t1")).json()["decision"] == (
        "approve"
    )
    rules = {
        "block": {"cards": [CARD_A]},
        "limits": [{"name": "big", "field": "amount", "max": 9e3}],
    }
    put = client.call("PUT", "/v1/rules", Role.ADMIN, json=rules)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 1 and put.json()["applied_version"] == 1
    scored = client.call("POST", "/v1/score", Role.ADMIN, json=txn("t2")).json()
    assert scored["decision"] == "decline" and scored["reasons"][0]["kind"] == "rule"
    got = client.call("GET", "/v1/rules", Role.ANALYST).json()
    assert got["version"] == 1 and got["updated_by"] == "api_key:admin01"
    assert got["rules"]["block"]["cards"] == [CARD_A]
    (entry,) = audit_entries(admin)
    assert entry["actor"] == "api_key:admin01" and entry["action"] == "rule.changed"
    assert entry["details"]["limits"] == ["big"] and entry["hash"] == put.json()["audit_hash"]
    assert client.call("PUT", "/v1/rules", Role.ANALYST, json={}).status_code == 403
    not_allowed = client.call("DELETE", "/v1/rules", Role.ADMIN)
    assert not_allowed.status_code == 405 and not_allowed.headers["Allow"] == "GET, PUT"
    cleared = client.call("PUT", "/v1/rules", Role.ADMIN, json={}).json()
    assert cleared["version"] == 2
    assert client.call("POST", "/v1/score", Role.ADMIN, json=txn("t3")).json()["decision"] == (
        "approve"
    )


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"limits": [{"name": "Bad Name", "field": "amount", "max": 1}]}, "limits.0.name"),
        ({"block": {"cards": [CARD_A], "phones": []}}, "block.phones"),
        ({"limits": [{"name": "x", "field": "amount", "max": "lots"}]}, "limits.0.max"),
        ({"allow": []}, "allow"),
    ],
)
def test_bad_rules_name_the_field(
    client: Client, admin: AdminContext, rules: dict[str, Any], field: str
) -> None:
    response = client.call("PUT", "/v1/rules", Role.ADMIN, json=rules)
    assert response.status_code == 422 and response.json()["field"] == field
    assert admin.rules.version() == 0 and not admin.audit.path.exists()


def test_damaged_rule_store_is_503_and_keeps_rules(
    client: Client, admin: AdminContext, service: ScoringService
) -> None:
    client.call("PUT", "/v1/rules", Role.ADMIN, json={"block": {"countries": ["XX"]}})
    assert isinstance(admin.rules, FileRuleStore)
    admin.rules.path.write_text("{not json")
    for method, body in (("GET", None), ("PUT", {})):
        response = client.call(method, "/v1/rules", Role.ADMIN, json=body)
        assert response.status_code == 503 and response.json()["error"] == "rule_store_unavailable"
    assert admin.watcher is not None and not admin.watcher.poll()
    assert service.active.rules.block.countries == {"XX"}  # the rules in force stay


def test_other_replicas_apply_rules_by_polling(tmp_path: Path) -> None:
    store = FileRuleStore(tmp_path / "rules.json")
    replicas = [fake_service() for _ in range(2)]
    watchers = [RuleWatcher(store, svc.set_rules) for svc in replicas]
    assert not watchers[0].poll()  # nothing stored yet
    store.put(Rules.model_validate({"block": {"countries": ["XX"]}}), "api_key:admin01")
    assert all(w.poll() for w in watchers) and not watchers[0].poll()
    for svc in replicas:  # set before the model loads: kept through (re)loads
        svc.apply_config(ScoringConfig())
        assert svc.active.rules.block.countries == {"XX"}
    replicas[0].apply_config(ScoringConfig(rules=Rules()))
    assert replicas[0].active.rules.block.countries == {"XX"}  # the store wins
    assert store.get() is not None and store.version() == 1


def test_redis_rule_store(tmp_path: Path) -> None:
    import redis

    from fraudlens.redis_server import EmbeddedRedis

    with EmbeddedRedis(tmp_path / "redis") as server:
        store = RedisRuleStore(redis.Redis(host="127.0.0.1", port=server.port))
        assert store.version() == 0 and store.get() is None
        first = store.put(Rules.model_validate({"block": {"cards": [CARD_B]}}), "a")
        second = store.put(Rules(), "b")
        assert (first.version, second.version, store.version()) == (1, 2, 2)
        stored = store.get()
        assert stored is not None and stored.updated_by == "b" and stored.rules == Rules()


def test_decisions_filters_and_no_pan(client: Client, service: ScoringService) -> None:
    client.call("PUT", "/v1/rules", Role.ADMIN, json={"block": {"cards": [CARD_B]}})
    for i, card in enumerate([CARD_A, CARD_B, CARD_A]):
        client.call("POST", "/v1/score", Role.ADMIN, json=txn(f"t{i}", card))
    pan_txn = txn("t9", None, pan=PAN, event_time="2026-06-05T10:00:00Z")
    assert client.call("POST", "/v1/score", Role.ADMIN, json=pan_txn).status_code == 200
    assert service.decisions is not None
    service.decisions.flush()  # type: ignore[attr-defined]
    get = client.call("GET", "/v1/decisions", Role.ANALYST)
    assert get.status_code == 200 and get.json()["count"] == 4
    assert PAN.replace(" ", "") not in get.text and "f_card_tx_count_10m" not in get.text
    first = get.json()["decisions"][0]
    assert first["transaction_id"] == "t9" and first["card_token"].startswith("tok_")
    declined = client.call("GET", "/v1/decisions?decision=decline", Role.ANALYST).json()
    assert [d["transaction_id"] for d in declined["decisions"]] == ["t1"]
    assert declined["decisions"][0]["rule_hits"]
    by_card = client.call("GET", f"/v1/decisions?card_token={CARD_A}&limit=1", Role.ANALYST)
    assert [d["transaction_id"] for d in by_card.json()["decisions"]] == ["t2"]
    window = "since=2026-06-04T00:00:00Z&until=2026-06-06T00:00:00"
    in_window = client.call("GET", f"/v1/decisions?{window}", Role.ANALYST).json()
    assert [d["transaction_id"] for d in in_window["decisions"]] == ["t9"]


def test_a_transaction_scored_again_after_a_promotion_lists_its_first_decision(
    tmp_path: Path,
) -> None:
    log = DecisionLog(tmp_path, "stream", flush_s=60)
    again = make_txn(transaction_id="t1")
    for version in ("1", "2"):  # redelivered after the promotion of version 2
        log.write(fake_service(version).score([again, make_txn(int(version) + 1)]))
        log.flush()
    listed = read_decisions(tmp_path, DecisionQuery())
    assert sorted((d.transaction_id, d.model_version) for d in listed) == [
        ("t1", "1"),  # one decision, the first one made, as PostgreSQL keeps it
        ("t2", "1"),
        ("t3", "2"),
    ]
    assert sorted(read_log(tmp_path)["model_version"]) == ["1", "1", "2"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=100000", "query.limit"),
        ("card_token=tok_k1_short", "query.card_token"),
        ("decision=maybe", "query.decision"),
        ("since=yesterday", "query.since"),
        ("since=2026-06-05T00:00:00Z&until=2026-06-04T00:00:00Z", "query.until"),
    ],
)
def test_decisions_bad_filters(client: Client, query: str, field: str) -> None:
    response = client.call("GET", f"/v1/decisions?{query}", Role.ANALYST)
    assert response.status_code == 422 and response.json()["field"] == field


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("since=0001-01-01T00:00:00%2B01:00", 1),  # before datetime.min in UTC
        ("until=0001-01-01T00:30:00%2B01:00", 0),
        ("until=9999-12-31T23:59:59-05:00", 1),  # after datetime.max in UTC
        ("since=9999-12-31T23:59:59-05:00", 0),
    ],
)
def test_decisions_at_the_edges_of_time(
    client: Client, service: ScoringService, query: str, count: int
) -> None:
    client.call("POST", "/v1/score", Role.ADMIN, json=txn("t1"))
    service.decisions.flush()  # type: ignore[union-attr]
    response = client.call("GET", f"/v1/decisions?{query}", Role.ANALYST)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == count


def test_promote_gate_override_and_errors(client: Client, admin: AdminContext) -> None:
    refused = client.call("POST", "/v1/model/promote", Role.ADMIN, json={"version": "2"})
    assert refused.status_code == 200 and refused.json()["promoted"] is False
    reason = "incident 42: champion misfires on new BIN range"
    forced = client.call(
        "POST", "/v1/model/promote", Role.ADMIN, json={"version": "2", "override_reason": reason}
    ).json()
    assert forced["promoted"] and forced["overridden"] and forced["previous_champion"] == "1"
    actions = [(e["action"], e["details"]["override_reason"]) for e in audit_entries(admin)]
    assert actions == [("model.promotion_refused", None), ("model.promoted", reason)]
    assert audit_entries(admin)[1]["actor"] == "api_key:admin01"
    missing = client.call("POST", "/v1/model/promote", Role.ADMIN, json={"version": "404"})
    assert missing.status_code == 404 and missing.json()["field"] == "version"
    no_gate = client.call("POST", "/v1/model/promote", Role.ADMIN, json={"version": "409"})
    assert no_gate.status_code == 409 and no_gate.json()["field"] == "override_reason"
    short = {"version": "2", "override_reason": "because"}
    bad = client.call("POST", "/v1/model/promote", Role.ADMIN, json=short)
    assert bad.status_code == 422 and bad.json()["field"] == "override_reason"
    assert (
        client.call("POST", "/v1/model/promote", Role.ANALYST, json={"version": "2"}).status_code
        == 403
    )
    assert len(audit_entries(admin)) == 2


def test_erasure_and_audit_verify(client: Client, admin: AdminContext, tmp_path: Path) -> None:
    day = tmp_path / "offline" / "transactions.parquet"
    day.parent.mkdir(parents=True)
    now = datetime(2026, 6, 3, tzinfo=UTC)
    pq.write_table(
        pa.table(
            {
                "transaction_id": ["t1", "t2", "t3"],
                "customer_id": ["c1", "c2", "c1"],
                "card_token": [CARD_A, CARD_B, CARD_A],
                "event_time": [now] * 3,
            }
        ),
        day,
    )
    response = client.call("POST", "/v1/privacy/erase", Role.ADMIN, json={"customer_id": "c1"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rows_removed"] == 2 and report["stores"][0]["store"] == "offline_store"
    assert "customer_id" not in report and pq.read_table(day).num_rows == 1
    (entry,) = audit_entries(admin)
    assert entry["action"] == "privacy.erased" and entry["actor"] == "api_key:admin01"
    bad = client.call("POST", "/v1/privacy/erase", Role.ADMIN, json={"customer_id": "a b"})
    assert bad.status_code == 422 and bad.json()["field"] == "customer_id"
    ok = client.call("GET", "/v1/audit/verify", Role.ADMIN).json()
    assert ok["ok"] and ok["entries"] == 1 and ok["head"] == entry["hash"]
    lines = admin.audit.path.read_text().replace('"rows_removed":2', '"rows_removed":0')
    admin.audit.path.write_text(lines)
    tampered = client.call("GET", "/v1/audit/verify", Role.ADMIN).json()
    assert not tampered["ok"] and "hash mismatch" in tampered["problems"][0]
    assert verify(admin.audit.path, admin.audit.key).problems == tampered["problems"]


def test_without_admin_context_routes_answer_503(
    service: ScoringService, settings: Settings
) -> None:
    auth = Authenticator.from_settings(settings)
    http = Client(create_api(fake_api_context(service, authenticator=auth)))
    try:
        assert http.call("GET", "/v1/audit/verify", Role.ADMIN).status_code == 503
        assert http.call("GET", "/v1/audit/verify").status_code == 401
    finally:
        http.close()


def test_admin_routes_fail_closed_without_authenticator(
    service: ScoringService, admin: AdminContext
) -> None:
    http = Client(create_api(fake_api_context(service, admin=admin)))
    try:
        assert http.call("POST", "/v1/score", json=txn("t1")).status_code == 200  # demo: open
        assert http.call("PUT", "/v1/rules", json={}).status_code == 503
        assert http.call("GET", "/v1/decisions").status_code == 503
    finally:
        http.close()


def test_app_startup_applies_stored_rules(service: ScoringService, admin: AdminContext) -> None:
    """The router's lifespan (run by uvicorn and by Serve) polls the store at startup."""
    admin.rules.put(Rules.model_validate({"block": {"merchants": ["M1"]}}), "api_key:other")
    app = create_api(fake_api_context(service, admin=admin))
    assert service.active.rules.block.merchants == frozenset()

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):
            assert service.active.rules.block.merchants == {"M1"}

    asyncio.run(start_and_stop())
    assert admin.watcher is not None and admin.watcher.version == 1


def test_admin_context_from_settings(settings: Settings, tmp_path: Path) -> None:
    admin = AdminContext.from_settings(settings)
    assert isinstance(admin.rules, FileRuleStore)
    assert admin.rules.path == tmp_path / "rules" / "rules.json"
    assert admin.decisions_dir == tmp_path / "decisions"
    assert admin.audit.path == tmp_path / "audit" / "audit.jsonl"
    redis_settings = settings.model_copy(
        update={"serve": settings.serve.model_copy(update={"rules_store": "redis"})}
    )
    with pytest.raises(ConfigError, match="rules_redis_url"):
        AdminContext.from_settings(redis_settings)
