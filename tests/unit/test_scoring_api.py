"""The FastAPI app over fakes: contract, validation (4xx naming the field), PAN handling."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
import pytest
from fake_api import TEST_TOKENIZER, fake_api_context, fake_service
from fastapi import FastAPI
from transactions import make_txn

from fraudlens.errors import BrokerError
from fraudlens.schema import Label
from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from ray_apps.api import create_api

PAN = "4111 1111 1111 1111"
TOKENIZER = TEST_TOKENIZER
RISKY = TOKENIZER.tokenize(PAN)


class ApiClient:
    """A synchronous client over httpx's ASGI transport (no network, no threads)."""

    def __init__(self, app: FastAPI) -> None:
        self._loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://api")

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()

    def get(self, url: str) -> httpx.Response:
        return self._loop.run_until_complete(self._client.get(url))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._client.post(url, **kwargs))


class Labels:
    topic = "labels"

    def __init__(self) -> None:
        self.sent: list[Label] = []
        self.fail = False

    def publish(self, labels: Sequence[Label]) -> None:
        if self.fail:
            raise BrokerError("broker down")
        self.sent.extend(labels)

    def close(self) -> None:
        pass


@pytest.fixture
def features() -> FakeFeatures:
    return FakeFeatures({RISKY: {"card_tx_count_10m": 7.0, "card_amount_ratio_30d": 12.0}})


@pytest.fixture
def labels() -> Labels:
    return Labels()


@pytest.fixture
def service(features: FakeFeatures) -> ScoringService:
    svc = fake_service(features=features, models=[FakeModel("2", bias=-3.5)])
    svc.warm_up()
    return svc


@pytest.fixture
def client(service: ScoringService, labels: Labels) -> Iterator[ApiClient]:
    ctx = fake_api_context(service, labels=labels, max_body_bytes=4096, max_batch_size=3)
    with ApiClient(create_api(ctx)) as test_client:
        yield test_client


def body(**overrides: Any) -> dict[str, Any]:
    """A request body (make_txn's fields); overrides may be invalid, None drops a field."""
    fields = make_txn(transaction_id="t1", card_token="tok_k1_" + "a" * 32).model_dump(
        mode="json", exclude_none=True
    )
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def test_score_approve(client: ApiClient) -> None:
    response = client.post("/v1/score", json=body())
    assert response.status_code == 200
    data = response.json()
    assert data["decision"] == "approve" and data["model_version"] == "1"
    assert 0 <= data["score"] < 0.5 and data["degraded"] is False and data["latency_ms"] > 0
    assert data["degraded_cause"] is None
    assert set(data) == {
        "transaction_id",
        "decision_id",
        "score",
        "decision",
        "reasons",
        "model_version",
        "latency_ms",
        "degraded",
        "degraded_cause",
    }


def test_pan_is_tokenized_and_never_returned(
    client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.post("/v1/score", json=body(card_token=None, pan=PAN))
    assert response.status_code == 200
    data = response.json()
    assert data["decision"] == "decline"
    assert data["reasons"][0]["text"] == "7 transactions in the last 10 minutes"
    digits = PAN.replace(" ", "")
    assert digits not in response.text and digits not in caplog.text


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (None, 422, "$"),
        ("{not json", 400, "$"),
        ([1, 2], 422, "$"),
        (body(amount=-5), 422, "amount"),
        (body(amount="lots"), 422, "amount"),
        (body(amount=5e9), 422, "amount"),
        (body(currency="XXX"), 422, "currency"),
        (body(event_time="2099-01-01T00:00:00Z"), 422, "event_time"),
        (body(event_time="2026-06-03T14:00:00"), 422, "event_time"),
        (body(transaction_id=None), 422, "transaction_id"),
        (body(card_token=None), 422, "pan"),
        (body(pan=PAN), 422, "pan"),
        (body(card_token=None, pan="4111111111111112"), 422, "pan"),
        (body(card_token=None, pan=4111111111111111), 422, "pan"),
        (body(extra_field=1), 422, "extra_field"),
        (body(mcc=5411), 422, "mcc"),
        (body(extras={"device_type": "x" * 65}), 422, "extras"),
        (body(extras={"device_type": "4111111111111111"}), 422, "extras"),
        (body(extras={"device_score": True}), 422, "extras"),
        (body(extras={"device_score": None}), 422, "extras"),
        (body(extras={"bad name": 1.0}), 422, "extras"),
        (body(extras=[0.5]), 422, "extras"),
    ],
)
def test_bad_requests_name_the_field(
    client: ApiClient, payload: Any, status: int, field: str
) -> None:
    if payload is None:
        response = client.post(
            "/v1/score", content=b"", headers={"content-type": "application/json"}
        )
    elif isinstance(payload, str):
        response = client.post(
            "/v1/score", content=payload, headers={"content-type": "application/json"}
        )
    else:
        response = client.post("/v1/score", json=payload)
    assert response.status_code == status, response.text
    data = response.json()
    assert data["field"] == field, data
    assert "4111111111111111" not in response.text and "4111111111111112" not in response.text


def test_zero_amount_is_scored(client: ApiClient) -> None:
    response = client.post("/v1/score", json=body(amount=0))
    assert response.status_code == 200, response.text
    assert response.json()["decision"] in {"approve", "review", "decline"}


def test_negative_amount_says_why(client: ApiClient) -> None:
    response = client.post("/v1/score", json=body(amount=-5))
    assert response.status_code == 422
    assert "must not be negative" in response.text


def test_huge_payload_gets_413(client: ApiClient) -> None:
    response = client.post("/v1/score", json=body(merchant_id="M" * 10_000))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"transactions": ['
        for _ in range(200):
            yield json.dumps(body()).encode() + b","
        yield b"{}]}"

    response = client.post(
        "/v1/score/batch", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_batch_scores_in_order_and_names_the_bad_item(client: ApiClient) -> None:
    items = [body(transaction_id="a"), body(transaction_id="b", card_token=None, pan=PAN)]
    response = client.post("/v1/score/batch", json={"transactions": items})
    assert response.status_code == 200
    data = response.json()
    assert [r["transaction_id"] for r in data["results"]] == ["a", "b"]
    assert [r["decision"] for r in data["results"]] == ["approve", "decline"]
    bad = client.post("/v1/score/batch", json={"transactions": [body(), body(currency="ABC")]})
    assert bad.status_code == 422 and bad.json()["field"] == "transactions.1.currency"
    assert client.post("/v1/score/batch", json={"transactions": []}).status_code == 422
    many = client.post("/v1/score/batch", json={"transactions": [body()] * 4})
    assert many.status_code == 413 and many.json()["field"] == "transactions"


def test_degraded_answer_is_200(client: ApiClient, features: FakeFeatures) -> None:
    features.down = True
    response = client.post("/v1/score", json=body(card_token=None, pan=PAN))
    assert response.status_code == 200
    data = response.json()
    assert data["degraded"] is True and data["decision"] == "approve"
    assert data["reasons"][-1]["code"] == "degraded"


class UnackedDecisions:
    """A decision sink whose broker never acknowledges."""

    def write(self, results: Sequence[object]) -> None:
        raise BrokerError("1 message(s) still queued after 5.0 s")

    def close(self) -> None:
        pass


def test_an_unrecorded_decision_is_503_not_an_answer() -> None:
    service = fake_service(decisions=UnackedDecisions())
    service.warm_up()
    with ApiClient(create_api(fake_api_context(service))) as api:
        for path, payload in (
            ("/v1/score", body()),
            ("/v1/score/batch", {"transactions": [body()]}),
        ):
            response = api.post(path, json=payload)
            assert response.status_code == 503, path
            assert response.json()["error"] == "decision_not_recorded"


def test_labels_are_published(client: ApiClient, labels: Labels) -> None:
    label = {
        "transaction_id": "t1",
        "is_fraud": True,
        "label_time": "2026-06-04T10:00:00Z",
        "source": "chargeback",
    }
    response = client.post("/v1/labels", json={"labels": [label]})
    assert response.status_code == 202 and response.json() == {"accepted": 1, "topic": "labels"}
    assert labels.sent[0].is_fraud is True
    bad = client.post("/v1/labels", json={"labels": [label | {"source": "rumour"}]})
    assert bad.status_code == 422 and bad.json()["field"] == "labels.0.source"
    labels.fail = True
    assert client.post("/v1/labels", json={"labels": [label]}).status_code == 503


def test_model_health_and_docs(client: ApiClient) -> None:
    info = client.get("/v1/model").json()
    assert info["model_version"] == "1" and info["feature_service"] == "fraud_v1"
    assert info["thresholds"] == {"review": 0.5, "decline": 0.9}
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz").json()
    assert ready == {"status": "ready", "model_version": "1", "features": "ok"}
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/score", "/v1/score/batch", "/v1/labels", "/v1/model"} <= set(paths)
    assert client.get("/v2/score").status_code == 404


def test_ready_only_once_warmed_up_and_says_when_the_store_is_down(
    features: FakeFeatures,
) -> None:
    svc = fake_service(features=features)
    with ApiClient(create_api(fake_api_context(svc))) as client:
        cold = client.get("/readyz")
        assert cold.status_code == 503 and "warming up" in cold.text
        features.down = True
        svc.warm_up()
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["features"].startswith("degraded: ")


def test_not_ready_is_503(features: FakeFeatures) -> None:
    svc = ScoringService(FakeLoader([], {}), features)
    with ApiClient(create_api(fake_api_context(svc))) as client:
        assert client.get("/readyz").status_code == 503
        assert client.post("/v1/score", json=body()).status_code == 503
        assert client.post("/v1/labels", json={"labels": []}).status_code == 422


def test_api_keys_and_roles(service: ScoringService) -> None:
    from fraudlens.security.auth import generate_api_key
    from fraudlens.settings import Settings
    from ray_apps.api import authenticator_for

    assert authenticator_for(Settings()) is None  # embedded demo without credentials: open
    scorer_id, scorer_key, scorer_hash = generate_api_key()
    analyst_id, analyst_key, analyst_hash = generate_api_key()
    settings = Settings(
        security={
            "api_keys": {
                scorer_id: {"role": "scorer", "sha256": scorer_hash},
                analyst_id: {"role": "analyst", "sha256": analyst_hash},
            }
        }
    )
    ctx = fake_api_context(service, labels=Labels(), authenticator=authenticator_for(settings))
    with ApiClient(create_api(ctx)) as client:
        assert client.post("/v1/score", json=body()).status_code == 401
        ok = client.post("/v1/score", json=body(), headers={"X-API-Key": scorer_key})
        assert ok.status_code == 200
        label = {
            "transaction_id": "t1",
            "is_fraud": False,
            "label_time": "2026-06-04T10:00:00Z",
            "source": "analyst",
        }
        forbidden = client.post(
            "/v1/labels", json={"labels": [label]}, headers={"X-API-Key": scorer_key}
        )
        assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
        accepted = client.post(
            "/v1/labels", json={"labels": [label]}, headers={"X-API-Key": analyst_key}
        )
        assert accepted.status_code == 202
        assert client.get("/healthz").status_code == 200


def test_extras_reach_the_model_and_take_its_default_when_missing() -> None:
    weights = {"txn_amount": 0.0, "x_device_score": 8.0}
    model = FakeModel("2", weights=weights, bias=-4.0, metadata={"extras": {"device_score": 0.1}})
    svc = fake_service(models=[model])
    svc.apply_config(ScoringConfig(model_version="2", max_reasons=0))
    svc.warm_up()

    def score(**extra: Any) -> float:
        with ApiClient(create_api(fake_api_context(svc))) as api:
            response = api.post("/v1/score", json=body(**extra))
        assert response.status_code == 200, response.text
        assert response.json()["degraded"] is False
        return float(response.json()["score"])

    high, low = score(extras={"device_score": 0.9}), score(extras={"device_score": 0.1})
    assert high > 0.9 > 0.5 > low
    # Missing: the model's default (0.1); an extra the model does not use is ignored.
    assert score() == low
    assert score(extras={"other": 1.0}) == low
    assert score(extras={"device_score": 0.9, "other": 1.0}) == high


def test_categorical_extras_are_one_hot_with_unseen_as_other_and_reasons_name_the_value() -> None:
    # Vocabulary: desktop (column 0), emulator (column 1); anything else is other.
    weights = {"txn_amount": 0.0, "x_device__0": 0.0, "x_device__1": 8.0, "x_device__other": 4.0}
    vocabulary = {"device": {"default": "desktop", "values": ["desktop", "emulator"]}}
    model = FakeModel("2", weights=weights, bias=-3.0, metadata={"categorical": vocabulary})
    svc = fake_service(models=[model])
    svc.apply_config(ScoringConfig(model_version="2", max_reasons=3))
    svc.warm_up()

    def score(**extra: Any) -> dict[str, Any]:
        with ApiClient(create_api(fake_api_context(svc))) as api:
            response = api.post("/v1/score", json=body(**extra))
        assert response.status_code == 200, response.text
        assert response.json()["degraded"] is False
        out: dict[str, Any] = response.json()
        return out

    emulator = score(extras={"device": "emulator"})
    desktop = score(extras={"device": "desktop"})
    unseen = score(extras={"device": "smart fridge"})
    assert emulator["score"] > unseen["score"] > desktop["score"]
    # Missing: the default value (desktop); a number is the text of the number.
    assert score()["score"] == desktop["score"]
    assert score(extras={"device": 12})["score"] == unseen["score"]
    texts = {r["code"]: r["text"] for r in emulator["reasons"] if r["kind"] == "model"}
    assert texts["x_device__1"] == "device is 'emulator'"
    texts = {r["code"]: r["text"] for r in unseen["reasons"] if r["kind"] == "model"}
    assert (
        texts["x_device__other"] == "device is 'smart fridge', a value rare or unseen in training"
    )
