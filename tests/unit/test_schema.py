from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudlens.errors import ValidationError
from fraudlens.schema import parse_label, parse_transaction, to_json

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def valid_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "transaction_id": "tx000001",
        "event_time": "2026-07-01T11:59:00Z",
        "card_token": "tok_k1_" + "a" * 32,
        "customer_id": "C000001",
        "terminal_id": "T000001",
        "merchant_id": "M000001",
        "mcc": "5411",
        "amount": 42.5,
        "currency": "EUR",
        "channel": "card_present",
        "entry_mode": "chip",
        "country": "FR",
        "latitude": 48.85,
        "longitude": 2.35,
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


def test_valid_event_round_trips() -> None:
    txn = parse_transaction(valid_event(), now=NOW)
    again = parse_transaction(to_json(txn), now=NOW)
    assert again == txn
    assert txn.event_time.tzinfo is not None


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"transaction_id": None}, "transaction_id", "required"),
        ({"amount": None}, "amount", "required"),
        ({"amount": -5}, "amount", "must not be negative"),
        ({"amount": -0.01}, "amount", "refunds are not scored"),
        ({"amount": float("inf")}, "amount", "finite"),
        ({"amount": float("nan")}, "amount", "finite"),
        ({"amount": 5_000_000}, "amount", "exceeds the maximum"),
        ({"amount": "lots"}, "amount", "number"),
        ({"currency": "XXX"}, "currency", "unknown currency"),
        ({"country": "ZZ"}, "country", "unknown country"),
        ({"event_time": "2027-01-01T00:00:00Z"}, "event_time", "in the future"),
        ({"event_time": "2026-07-01T11:00:00"}, "event_time", "timezone"),
        ({"event_time": "yesterday"}, "event_time", "datetime"),
        ({"transaction_id": "bad id with spaces"}, "transaction_id", "pattern"),
        ({"card_token": "4111111111111111"}, "card_token", "pattern"),
        ({"mcc": "54"}, "mcc", "pattern"),
        ({"channel": "pigeon"}, "channel", "Input should be"),
        ({"latitude": 123.0}, "latitude", "less than or equal"),
        ({"ip_address": "999.1.1.1"}, "ip_address", "IP"),
        ({"surprise": 1}, "surprise", "unknown field"),
    ],
)
def test_bad_events_name_the_field(overrides: dict[str, Any], field: str, fragment: str) -> None:
    event = valid_event(**{k: v for k, v in overrides.items() if v is not None})
    for key, value in overrides.items():
        if value is None:
            event.pop(key)
    with pytest.raises(ValidationError) as info:
        parse_transaction(event, now=NOW)
    assert info.value.field == field
    assert fragment.lower() in info.value.reason.lower()


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b"\xff\xfe", "null"],
)
def test_unparseable_payloads(raw: bytes | str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_transaction(raw, now=NOW)
    assert info.value.field == "$"


@pytest.mark.parametrize("amount", [0, 0.0, "0"])
def test_zero_amount_is_a_card_check_and_accepted(amount: Any) -> None:
    assert parse_transaction(valid_event(amount=amount), now=NOW).amount == 0.0


def test_future_limit_is_configurable() -> None:
    soon = (NOW + timedelta(minutes=10)).isoformat()
    with pytest.raises(ValidationError):
        parse_transaction(valid_event(event_time=soon), now=NOW, max_future_seconds=300)
    assert parse_transaction(valid_event(event_time=soon), now=NOW, max_future_seconds=3600)


def test_label_validation() -> None:
    label = {
        "transaction_id": "tx000001",
        "is_fraud": True,
        "label_time": "2026-06-20T00:00:00Z",
        "source": "chargeback",
    }
    assert parse_label(json.dumps(label), now=NOW).is_fraud is True
    with pytest.raises(ValidationError) as info:
        parse_label({**label, "source": "rumour"}, now=NOW)
    assert info.value.field == "source"
    with pytest.raises(ValidationError) as info:
        parse_label({k: v for k, v in label.items() if k != "is_fraud"}, now=NOW)
    assert info.value.field == "is_fraud"
