"""Every answer of /v1/score and /v1/score/batch, byte for byte, against answers recorded before
the request path was rewritten to validate once (``api_answers_golden.json``).

Good and bad bodies (each 4xx names its field, with the same message and the
same list of errors), content types, size limits. Only ``latency_ms`` is left
out of the comparison (and the clock in the future-time message). Re-record only for an intended change of the API:
``PYTHONPATH=tests python tests/unit/test_api_answers_golden.py`` (from the
repository root; the shared test helpers live in tests/).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from asgi_client import AsgiClient
from fake_api import TEST_TOKENIZER, fake_api_context, fake_service
from transactions import make_txn

from fraudlens.errors import ValidationError
from fraudlens.schema import Transaction, parse_transaction, validated_transaction
from fraudlens.scoring.fakes import FakeFeatures, FakeModel
from fraudlens.scoring.scorer import Scorer
from fraudlens.security.tokenize import normalize_pan
from ray_apps.api import create_api, to_transaction
from ray_apps.schemas import ScoreRequest

GOLDEN = Path(__file__).with_name("api_answers_golden.json")
PAN = "4111 1111 1111 1111"
RISKY = TEST_TOKENIZER.tokenize(PAN)
JSON = "application/json"
# The future limit of event_time is "now + skew": masked in both answers.
NOW = re.compile(r"\(limit [^)]*\)")


def txn(**overrides: Any) -> dict[str, Any]:
    """A valid body; overrides may be invalid, None drops the field."""
    fields = make_txn(transaction_id="t1", card_token="tok_k1_" + "a" * 32).model_dump(
        mode="json", exclude_none=True
    )
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


# (name, single-transaction overrides): each is sent alone to /v1/score and as
# the second item of a batch to /v1/score/batch.
ITEMS: list[tuple[str, dict[str, Any]]] = [
    ("valid", {}),
    ("valid_pan", {"card_token": None, "pan": PAN}),
    ("risky_token", {"card_token": RISKY}),
    ("pan_with_last4", {"card_token": None, "pan": PAN, "card_last4": "1111"}),
    ("pan_wrong_last4", {"card_token": None, "pan": PAN, "card_last4": "1234"}),
    ("pan_luhn", {"card_token": None, "pan": "4111111111111112"}),
    ("pan_int", {"card_token": None, "pan": 4111111111111111}),
    ("pan_too_long", {"card_token": None, "pan": "4" * 30}),
    ("pan_and_token", {"pan": PAN}),
    ("no_card", {"card_token": None}),
    ("token_bad", {"card_token": "tok_k1_xyz"}),
    ("amount_negative", {"amount": -5}),
    ("amount_text", {"amount": "lots"}),
    ("amount_numeric_text", {"amount": "12.5"}),
    ("amount_bool", {"amount": True}),
    ("amount_huge", {"amount": 5e9}),
    ("amount_zero", {"amount": 0}),
    ("amount_int", {"amount": 40}),
    ("amount_null", {"amount": None, "extras": None}),
    ("currency_unknown", {"currency": "XXX"}),
    ("currency_lower", {"currency": "eur"}),
    ("currency_padded", {"currency": " EUR "}),
    ("country_unknown", {"country": "ZZ"}),
    ("country_int", {"country": 33}),
    ("event_future", {"event_time": "2099-01-01T00:00:00Z"}),
    ("event_naive", {"event_time": "2026-06-03T14:00:00"}),
    ("event_epoch", {"event_time": 1780000000}),
    ("event_epoch_text", {"event_time": "1780000000"}),
    ("event_offset", {"event_time": "2026-06-03T16:00:00+02:00"}),
    ("event_date_only", {"event_time": "2026-06-03"}),
    ("event_garbage", {"event_time": "2026-13-45T99:00:00Z"}),
    ("id_missing", {"transaction_id": None}),
    ("id_bad", {"transaction_id": "bad id!"}),
    ("id_padded", {"transaction_id": "  t9  "}),
    ("id_int", {"transaction_id": 7}),
    ("extra_field", {"extra_field": 1}),
    ("mcc_int", {"mcc": 5411}),
    ("mcc_short", {"mcc": "541"}),
    ("channel_bad", {"channel": "telepathy"}),
    ("entry_bad", {"entry_mode": 3}),
    ("schema_2", {"schema_version": 2}),
    ("schema_true", {"schema_version": True}),
    ("schema_float", {"schema_version": 1.0}),
    ("schema_text", {"schema_version": "1"}),
    ("latitude_text", {"latitude": "45.5"}),
    ("latitude_range", {"latitude": 95}),
    ("latitude_int", {"latitude": 45}),
    ("longitude_range", {"longitude": -200.5}),
    ("device_ok", {"device_id": "dev-1"}),
    ("device_bad", {"device_id": "dev 1"}),
    ("ip_ok", {"ip_address": "10.0.0.1"}),
    ("ip_v6", {"ip_address": "::1"}),
    ("ip_bad", {"ip_address": "999.1.1.1"}),
    ("last4_bad", {"card_last4": "12a4"}),
    ("extras_ok", {"extras": {"device_score": 0.5, "device": "desktop"}}),
    ("extras_long", {"extras": {"device_type": "x" * 65}}),
    ("extras_pan", {"extras": {"device_type": "4111111111111111"}}),
    ("extras_bool", {"extras": {"device_score": True}}),
    ("extras_null", {"extras": {"device_score": None}}),
    ("extras_name", {"extras": {"bad name": 1.0}}),
    ("extras_list", {"extras": [0.5]}),
    ("extras_empty_text", {"extras": {"device": "  "}}),
    ("extras_control", {"extras": {"device": "a\u0007b"}}),
    ("extras_many", {"extras": {f"e{i}": 1.0 for i in range(257)}}),
    ("extras_huge_int", {"extras": {"n": 10**400}}),
    ("two_errors", {"amount": -1, "currency": "XXX", "mcc": 1}),
]

# Whole raw bodies: (name, path, content, content type or None).
RAW: list[tuple[str, str, bytes, str | None]] = [
    ("empty", "/v1/score", b"", JSON),
    ("empty_batch", "/v1/score/batch", b"", JSON),
    ("not_json", "/v1/score", b"{not json", JSON),
    ("not_json_batch", "/v1/score/batch", b'{"transactions": [', JSON),
    ("array", "/v1/score", b"[1, 2]", JSON),
    ("array_batch", "/v1/score/batch", b"[1, 2]", JSON),
    ("null", "/v1/score", b"null", JSON),
    ("null_batch", "/v1/score/batch", b"null", JSON),
    ("string_batch", "/v1/score/batch", b'"x"', JSON),
    ("no_transactions", "/v1/score/batch", b"{}", JSON),
    ("transactions_null", "/v1/score/batch", b'{"transactions": null}', JSON),
    ("transactions_object", "/v1/score/batch", b'{"transactions": {}}', JSON),
    ("transactions_empty", "/v1/score/batch", b'{"transactions": []}', JSON),
    ("transactions_ints", "/v1/score/batch", b'{"transactions": [1, "a", null]}', JSON),
    ("text_plain", "/v1/score", json.dumps(txn()).encode(), "text/plain"),
    ("text_plain_batch", "/v1/score/batch", json.dumps({"transactions": [txn()]}).encode(), "text/plain"),
    ("no_content_type", "/v1/score", json.dumps(txn()).encode(), None),
    ("no_content_type_batch", "/v1/score/batch", json.dumps({"transactions": [txn()]}).encode(), None),
    ("json_charset", "/v1/score", json.dumps(txn()).encode(), "application/json; charset=utf-8"),
    ("vnd_json_batch", "/v1/score/batch", json.dumps({"transactions": [txn()]}).encode(), "application/vnd.api+json"),
    ("nan_amount", "/v1/score", json.dumps(txn()).replace('"amount": 40.0', '"amount": NaN').encode(), JSON),
    ("inf_amount_batch", "/v1/score/batch", ('{"transactions": [' + json.dumps(txn()).replace('"amount": 40.0', '"amount": Infinity') + "]}").encode(), JSON),
    ("duplicate_key", "/v1/score", json.dumps(txn())[:-1].encode() + b', "amount": -3}', JSON),
    ("not_utf8", "/v1/score", b'{"transaction_id": "\xff"}', JSON),
    ("bom", "/v1/score", b"\xef\xbb\xbf" + json.dumps(txn()).encode(), JSON),
    ("trailing_garbage", "/v1/score/batch", json.dumps({"transactions": [txn()]}).encode() + b"x", JSON),
    ("extra_top_level", "/v1/score/batch", json.dumps({"transactions": [txn()], "more": 1}).encode(), JSON),
    ("too_many", "/v1/score/batch", json.dumps({"transactions": [txn()] * 4}).encode(), JSON),
    ("too_many_and_bad", "/v1/score/batch", json.dumps({"transactions": [txn()] * 3 + [txn(amount=-1)]}).encode(), JSON),
    ("order", "/v1/score/batch", json.dumps({"transactions": [txn(transaction_id="b"), txn(transaction_id="a", card_token=RISKY), txn(transaction_id="c", card_token=None, pan=PAN)]}).encode(), JSON),
    ("bad_first_and_third", "/v1/score/batch", json.dumps({"transactions": [txn(currency="ABC"), txn(), txn(amount=-2)]}).encode(), JSON),
    ("pan_errors_in_order", "/v1/score/batch", json.dumps({"transactions": [txn(card_token=None, pan="4111111111111112"), txn(amount=5e9)]}).encode(), JSON),
]  # fmt: skip


def cases() -> list[tuple[str, str, bytes, str | None]]:
    """Every request of the comparison: (name, path, content, content type)."""
    out = []
    for name, overrides in ITEMS:
        body = txn(**overrides)
        out.append((f"single_{name}", "/v1/score", json.dumps(body).encode(), JSON))
        batch = {"transactions": [txn(transaction_id="first"), body]}
        out.append((f"batch_{name}", "/v1/score/batch", json.dumps(batch).encode(), JSON))
    return out + RAW


def answers() -> dict[str, dict[str, Any]]:
    """Status, content type and JSON body (``latency_ms`` removed) of every case."""
    features = FakeFeatures({RISKY: {"card_tx_count_10m": 7.0, "card_amount_ratio_30d": 12.0}})
    # A generous read budget: on a loaded machine one slow fake read past the default
    # 100 ms would open the breaker and turn the next answers degraded.
    scorer = Scorer(features, feature_timeout_s=60.0)
    service = fake_service(features=features, models=[FakeModel("2", bias=-3.5)], scorer=scorer)
    service.warm_up()
    ctx = fake_api_context(service, max_body_bytes=200_000, max_batch_size=3)
    out: dict[str, dict[str, Any]] = {}
    with AsgiClient(create_api(ctx)) as client:
        for name, path, content, content_type in cases():
            headers = {"content-type": content_type} if content_type else {}
            response = client.post(path, content=content, headers=headers)
            body = json.loads(NOW.sub("(limit <now>)", response.text))
            body.pop("latency_ms", None)
            for result in body.get("results", []):
                result.pop("latency_ms", None)
            out[name] = {
                "status": response.status_code,
                "content_type": response.headers["content-type"],
                "body": body,
            }
    return out


@pytest.fixture(scope="module")
def now_answers() -> dict[str, dict[str, Any]]:
    return answers()


def test_golden_file_covers_every_case() -> None:
    assert sorted(json.loads(GOLDEN.read_text())) == sorted(name for name, *_ in cases())


@pytest.mark.parametrize("name", [name for name, *_ in cases()])
def test_answer_is_unchanged(now_answers: dict[str, dict[str, Any]], name: str) -> None:
    recorded = json.loads(GOLDEN.read_text())[name]
    assert now_answers[name] == recorded
    assert "4111111111111111" not in json.dumps(now_answers[name])


def test_cases_cover_errors_and_answers() -> None:
    recorded = json.loads(GOLDEN.read_text())
    statuses = {answer["status"] for answer in recorded.values()}
    assert {200, 400, 413, 422} <= statuses
    named = [a["body"]["field"] for a in recorded.values() if a["status"] == 422]
    assert all(named) and any(f.startswith("transactions.1.") for f in named)


def validated_twice(request: ScoreRequest) -> Transaction:
    """What the API did before: dump the request, then validate it again as a Transaction."""
    data = request.model_dump(exclude={"pan"}, exclude_none=True)
    if request.pan is not None:
        pan = request.pan.get_secret_value()
        data["card_token"] = TEST_TOKENIZER.tokenize(pan)
        data.setdefault("card_last4", normalize_pan(pan)[-4:])
    return parse_transaction(data)


@pytest.mark.parametrize("name", [name for name, _ in ITEMS])
def test_one_validation_gives_the_transaction_two_gave(name: str) -> None:
    overrides = dict(ITEMS)[name]
    try:
        request = ScoreRequest.model_validate(txn(**overrides))
        once = to_transaction(request, fake_api_context())
    except (ValueError, ValidationError):  # pydantic's ValidationError is a ValueError
        return  # refused: the golden answers compare the errors
    twice = validated_twice(request)
    assert once == twice
    assert once.model_fields_set == twice.model_fields_set
    assert {k: type(v) for k, v in vars(once).items()} == {
        k: type(v) for k, v in vars(twice).items()
    }
    assert once.model_dump_json() == twice.model_dump_json()
    assert type(once) is Transaction


def test_a_transaction_is_made_only_from_every_field() -> None:
    values = dict(vars(make_txn()))
    assert validated_transaction(dict(values)) == make_txn()
    with pytest.raises(ValueError, match="pan"):
        validated_transaction(values | {"pan": None})
    del values["mcc"]
    with pytest.raises(ValueError, match="mcc"):
        validated_transaction(values)
    # Nothing else to carry over: no private attributes, no post-init hook.
    assert Transaction.__private_attributes__ == {} and Transaction.__pydantic_post_init__ is None


if __name__ == "__main__":  # re-record (see the module docstring)
    GOLDEN.write_text(json.dumps(answers(), indent=1, sort_keys=True) + "\n")
    sys.exit(0)
