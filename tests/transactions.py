"""One transaction builder for the unit tests (card tokens only, never a card number)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fraudlens.schema import Transaction

CARD = "tok_demo_" + "b" * 32
START = datetime(2026, 6, 3, 14, 0, tzinfo=UTC)


def make_txn(
    i: int = 0, *, step: timedelta = timedelta(minutes=1), **overrides: Any
) -> Transaction:
    """Transaction ``t{i}`` at ``START + i * step``; any schema field can be overridden."""
    fields: dict[str, Any] = {
        "transaction_id": f"t{i}",
        "event_time": START + i * step,
        "card_token": CARD,
        "customer_id": "c1",
        "terminal_id": "T1",
        "merchant_id": "M1",
        "mcc": "5411",
        "amount": 40.0,
        "currency": "EUR",
        "channel": "card_present",
        "entry_mode": "chip",
        "country": "FR",
        "longitude": 2.3,
        "latitude": 48.8,
    }
    return Transaction(**(fields | overrides))
