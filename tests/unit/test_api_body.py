"""Scoring bodies read in one pass over the raw bytes (ray_apps.body) answer as FastAPI did.

The golden answers (test_api_answers_golden.py) compare every answer; here:
the one pass never accepts a body the two-step read refused, nor reads it
differently; errors come in FastAPI's order (unparsable JSON before
authentication, invalid fields after it); the OpenAPI document still
declares the bodies; an answer is the JSON the response models gave; a batch
above the size limit is refused.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest
from asgi_client import AsgiClient
from fake_api import fake_api_context
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import to_json
from starlette.types import Message

from fraudlens.scoring.result import Reason, ScoreResult
from fraudlens.security.auth import Authenticator, generate_api_key
from fraudlens.settings import Settings
from ray_apps.api import create_api, to_response
from ray_apps.schemas import BatchScoreRequest, BatchScoreResponse, ScoreRequest, ScoreResponse

VALID: dict[str, Any] = {
    "transaction_id": "t1",
    "event_time": "2026-06-01T12:00:00Z",
    "card_token": "tok_k1_" + "a" * 32,
    "customer_id": "c1",
    "terminal_id": "T1",
    "merchant_id": "M1",
    "mcc": "5411",
    "amount": 40.5,
    "currency": "EUR",
    "channel": "card_present",
    "entry_mode": "chip",
    "country": "FR",
    "latitude": 48.8,
    "longitude": 2.3,
}
FIELDS = [*VALID, "schema_version", "card_last4", "device_id", "ip_address", "extras", "pan"]

# JSON values of every kind, including the look-alikes lax parsing turns into others.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", " ", "1", "1.5", "EUR", "FR", "chip", "2026-06-01", "12a4"]),
    st.sampled_from(["2026-06-01T12:00:00Z", "2026-06-01T12:00:00", "1780000000", "::1"]),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
bodies = st.fixed_dictionaries({}, optional={name: values for name in FIELDS}).map(
    lambda changes: {**VALID, **changes}
)


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(body=bodies)
def test_the_one_pass_accepts_only_what_the_two_steps_accept_and_reads_it_alike(
    body: dict[str, Any],
) -> None:
    raw = json.dumps(body).encode()
    try:
        once = ScoreRequest.model_validate_json(raw)
    except pydantic.ValidationError:
        return  # refused: the body is read again the two-step way, for its errors
    twice = ScoreRequest.model_validate(json.loads(raw), from_attributes=True)
    assert vars(once) == vars(twice)
    assert {k: type(v) for k, v in vars(once).items()} == {
        k: type(v) for k, v in vars(twice).items()
    }


def test_batches_too() -> None:
    raw = json.dumps({"transactions": [VALID, VALID | {"amount": 3}]}).encode()
    once = BatchScoreRequest.model_validate_json(raw)
    assert once == BatchScoreRequest.model_validate(json.loads(raw), from_attributes=True)


def api_with_keys() -> tuple[FastAPI, str]:
    key_id, key, sha = generate_api_key()
    settings = Settings(security={"api_keys": {key_id: {"role": "scorer", "sha256": sha}}})
    ctx = fake_api_context(authenticator=Authenticator.from_settings(settings))
    return create_api(ctx), key


@pytest.mark.parametrize("path", ["/v1/score", "/v1/score/batch"])
def test_unparsable_json_is_refused_before_authentication_and_bad_fields_after(
    path: str,
) -> None:
    app, key = api_with_keys()
    headers = {"content-type": "application/json"}
    with AsgiClient(app) as client:
        assert client.post(path, content=b"{not json", headers=headers).status_code == 400
        bad: dict[str, Any] = {"transactions": [{}]} if path.endswith("batch") else {}
        assert client.post(path, json=bad).status_code == 401
        assert client.post(path, content=b"", headers=headers).status_code == 401
        answer = client.post(path, json=bad, headers={"X-API-Key": key})
        assert answer.status_code == 422 and answer.json()["field"].endswith("transaction_id")
        good = {"transactions": [VALID]} if path.endswith("batch") else VALID
        assert client.post(path, json=good, headers={"X-API-Key": key}).status_code == 200


def test_openapi_declares_the_bodies_as_fastapi_does() -> None:
    declared = FastAPI()

    @declared.post("/single")
    async def single(body: ScoreRequest) -> None:
        return None

    @declared.post("/batch")
    async def batch(body: BatchScoreRequest) -> None:
        return None

    expected = declared.openapi()
    document = create_api(fake_api_context()).openapi()
    for path, route in (("/v1/score", "/single"), ("/v1/score/batch", "/batch")):
        body = document["paths"][path]["post"]["requestBody"]
        assert body == expected["paths"][route]["post"]["requestBody"]
    for name in ("ScoreRequest", "BatchScoreRequest", "Channel", "EntryMode"):
        assert document["components"]["schemas"][name] == expected["components"]["schemas"][name]


def test_an_answer_is_the_json_the_response_models_gave() -> None:
    reasons = [
        Reason(kind="rule", code="velocity", text="7 in 10 minutes", value=7.0),
        Reason(kind="model", code="txn_amount", text="amount", value=1e-7, contribution=0.3),
    ]
    results = [
        ScoreResult("t1", "d" * 32, datetime.now(UTC), "tok", 0.1234567891, "decline",
                    reasons, "7", False, (0.5, 0.9)),
        ScoreResult("t2", "e" * 32, datetime.now(UTC), "tok", None, "review",
                    [], "7", True, (0.5, 0.9), degraded_cause="store_timeout"),
    ]  # fmt: skip
    rows = [to_response(r, 12.34567) for r in results]
    assert to_json(rows[0]) == ScoreResponse(**rows[0]).model_dump_json().encode()
    answer = {"results": rows, "model_version": "7", "latency_ms": 12.346, "degraded": True}
    models = BatchScoreResponse(
        results=[ScoreResponse(**row) for row in rows],
        model_version="7",
        latency_ms=12.346,
        degraded=True,
    )
    assert to_json(answer) == models.model_dump_json().encode()


def test_a_batch_above_the_limit_is_refused_after_its_fields_are_checked() -> None:
    app = create_api(fake_api_context(max_batch_size=2))
    with AsgiClient(app) as client:
        over = client.post("/v1/score/batch", json={"transactions": [VALID] * 3})
        assert over.status_code == 413 and over.json()["field"] == "transactions"
        assert over.json()["error"] == "batch_too_large"
        bad = client.post("/v1/score/batch", json={"transactions": [VALID] * 2 + [{}]})
        assert bad.status_code == 422
        assert client.post("/v1/score/batch", json={"transactions": [VALID] * 2}).is_success


@pytest.mark.parametrize("path", ["/v1/score", "/v1/score/batch"])
def test_a_client_gone_mid_body_gets_fastapis_400(path: str) -> None:
    app = create_api(fake_api_context())
    sent: list[Message] = []
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"transactions": [', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1), "server": ("api", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["message"] == "There was an error parsing the body"
