"""Fuzzing the real app with schemathesis from its own OpenAPI spec: no 5xx, answers match the spec.

Every operation gets generated valid and invalid inputs with an admin key (so
every route is reached past auth), over the unit-test fakes (model, features)
and throwaway stores. Hypothesis is derandomized and keeps no example
database, so a run is reproducible (only its caches go to .hypothesis/, which
it git-ignores).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
import schemathesis
from fake_api import fake_api_context, fake_service
from fastapi import FastAPI
from fastapi.responses import Response
from hypothesis import HealthCheck, given, settings
from schemathesis.core.failures import FailureGroup

from fraudlens.errors import ConfigError, DataError, ModelNotFoundError
from fraudlens.scoring import ScoringConfig, load_rules
from fraudlens.scoring.rule_store import FileRuleStore
from fraudlens.security.audit import AuditLog
from fraudlens.security.auth import Authenticator, generate_api_key
from fraudlens.security.privacy import ErasureReport, ParquetEraser, erase_customer
from fraudlens.settings import Settings
from ray_apps.admin import AdminContext
from ray_apps.api import create_api

ADMIN_ID, ADMIN_KEY, ADMIN_SHA = generate_api_key("fuzzadmin")
MAX_EXAMPLES = 30


class Labels:
    topic = "labels"

    def publish(self, labels: Any) -> None:
        pass

    def close(self) -> None:
        pass


def promote(version: str, override: str | None, actor: str) -> Any:
    from training.promote import GateDecision

    if version.startswith("9"):
        raise ModelNotFoundError("no such version")
    if version.startswith("8"):
        raise DataError("no holdout")
    return GateDecision(version, "1", bool(override), [override or "gate refused"])


def build_app() -> tuple[Any, AdminContext]:
    """The real app over fakes; the stores are pointed at pytest's tmp by ``stores``."""
    service = fake_service()
    service.warm_up()
    unset = Path("unset-by-fixture")

    def erase(customer_id: str, actor: str) -> ErasureReport:
        config = Settings(data_dir=admin.decisions_dir)
        eraser = ParquetEraser("offline_store", [admin.decisions_dir / "offline"])
        return erase_customer(config, customer_id, actor=actor, erasers=[eraser], audit=admin.audit)

    admin = AdminContext(FileRuleStore(unset), AuditLog(unset), unset, promote, erase, 0)
    auth = Authenticator.from_settings(
        Settings(security={"api_keys": {ADMIN_ID: {"role": "admin", "sha256": ADMIN_SHA}}})
    )
    ctx = fake_api_context(
        service,
        labels=Labels(),
        max_body_bytes=64_000,
        max_batch_size=20,
        authenticator=auth,
        admin=admin,
    )
    return create_api(ctx), admin


# Built at import: schemathesis' lazy (fixture) loader does not support pytest 9 yet.
APP, ADMIN = build_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def stores(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    ADMIN.rules = FileRuleStore(tmp / "rules.json")
    ADMIN.audit = AuditLog(tmp / "audit.jsonl", fsync=False)
    ADMIN.decisions_dir = tmp
    if ADMIN.watcher is not None:
        ADMIN.watcher.store = ADMIN.rules


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_fuzz(case: Any) -> None:
    # Every default check but positive_data_acceptance: the spec cannot say
    # everything the API checks (ISO currency and country codes, exactly one of
    # card_token and pan), so some schema-valid bodies rightly get 422.
    case.call_and_validate(
        headers={"X-API-Key": ADMIN_KEY},
        excluded_checks=[
            schemathesis.checks.positive_data_acceptance,
        ],
    )


def test_fuzzer_finds_a_server_error() -> None:
    """The same harness fails on an app that answers 500 for some input."""
    app = FastAPI()

    @app.get("/half", responses={200: {"model": dict[str, int]}})
    async def half(n: int) -> Response:
        status = 500 if n % 7 == 3 else 200
        return Response('{"x": 1}', status_code=status, media_type="application/json")

    operation = schemathesis.openapi.from_asgi("/openapi.json", app)["/half"]["GET"]

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None)
    def fuzz(case: Any) -> None:
        case.call_and_validate(excluded_checks=[schemathesis.checks.negative_data_rejection])

    with pytest.raises(FailureGroup, match="Server error"):
        fuzz()


def call(method: str, url: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://a") as http:
            return await http.request(method, url, headers={"X-API-Key": ADMIN_KEY}, **kw)

    return asyncio.run(go())


LIMIT = {"name": "cap", "field": "amount", "max": 500}
LABEL = {
    "transaction_id": "t1",
    "is_fraud": True,
    "label_time": "2026-06-01T12:00:00Z",
    "source": "analyst",
}
TXN = {
    "transaction_id": "t1",
    "event_time": "2026-06-01T12:00:00Z",
    "card_token": "tok_k1_" + "a" * 32,
    "customer_id": "c1",
    "terminal_id": "T1",
    "merchant_id": "M1",
    "mcc": "5411",
    "amount": 40,
    "currency": "EUR",
    "channel": "card_present",
    "entry_mode": "chip",
    "country": "FR",
}


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("PUT", "/v1/rules", {"limits": [{**LIMIT, "max": False}]}, "limits.0.max"),
        ("PUT", "/v1/rules", {"limits": [{**LIMIT, "max": "500"}]}, "limits.0.max"),
        ("POST", "/v1/labels", {"labels": [{**LABEL, "label_time": 0}]}, "labels.0.label_time"),
        (
            "POST",
            "/v1/labels",
            {"labels": [{**LABEL, "label_time": "1780000000"}]},
            "labels.0.label_time",
        ),
        ("POST", "/v1/labels", {"labels": [{**LABEL, "is_fraud": 1}]}, "labels.0.is_fraud"),
        (
            "POST",
            "/v1/labels",
            {"labels": [{**LABEL, "schema_version": True}]},
            "labels.0.schema_version",
        ),
        ("POST", "/v1/score", {**TXN, "amount": True}, "amount"),
        ("POST", "/v1/score", {**TXN, "event_time": 1780000000}, "event_time"),
        ("POST", "/v1/score", {**TXN, "latitude": "45.5"}, "latitude"),
        ("GET", "/v1/decisions?until=0.5", None, "query.until"),
        ("GET", "/v1/decisions?since=1780000000", None, "query.since"),
    ],
)
def test_coercions_that_change_meaning_get_422_naming_the_field(
    method: str, url: str, body: Any, field: str
) -> None:
    answer = call(method, url, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field


def test_ints_for_floats_and_iso_times_are_still_accepted() -> None:
    rules = call("PUT", "/v1/rules", json={"limits": [LIMIT], "block": {"countries": ["KP", "KP"]}})
    assert rules.status_code == 200, rules.text
    assert rules.json()["rules"]["limits"][0]["max"] == 500.0
    assert rules.json()["rules"]["block"]["countries"] == ["KP"]
    labels = call("POST", "/v1/labels", json={"labels": [LABEL]})
    assert labels.status_code == 202, labels.text
    scored = call("POST", "/v1/score", json={**TXN, "latitude": 45})
    assert scored.status_code == 200, scored.text
    decisions = call("GET", "/v1/decisions?since=2026-06-01&until=2026-06-02T00:00:00%2B02:00")
    assert decisions.status_code == 200, decisions.text


def test_rules_files_load_with_yaml_types_and_refuse_a_bool_limit(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "block:\n  countries: [KP, IR]\n"
        "limits:\n  - {name: cap, field: amount, max: 10000}\n"
        "  - {name: velocity, field: card_tx_count_10m, max: 7.5, action: decline}\n"
    )
    rules = load_rules(path)
    assert [limit.max for limit in rules.limits] == [10000.0, 7.5]
    path.write_text("limits:\n  - {name: cap, field: amount, max: false}\n")
    with pytest.raises(ConfigError, match="limits.0.max"):
        load_rules(path)
    with pytest.raises(pydantic.ValidationError, match="thresholds.review"):
        ScoringConfig.model_validate({"thresholds": {"review": True, "decline": 1}})
