"""Decisions for the workspace tests, shaped as the decisions topic carries them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fraudlens.kafka.consumer import ConsumedEvent
from fraudlens.records.sink import DecisionWriter
from fraudlens.scoring.result import Reason
from fraudlens.scoring.stream import DecisionEvent

T0 = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
CARD_A = "tok_k1_" + "a" * 32
CARD_B = "tok_k1_" + "b" * 32
TERMINAL = "T42"
CARD_LAST4 = {CARD_A: "4242", CARD_B: "0005"}


def decision(
    transaction_id: str,
    card: str,
    minutes: float,
    decision: str = "review",
    score: float = 0.8,
    amount: float = 120.0,
    terminal: str = TERMINAL,
    reasons: list[Reason] | None = None,
    model_version: str = "7",
) -> DecisionEvent:
    """A decision as the stream scorer publishes it."""
    return DecisionEvent(
        decision_id=f"d-{transaction_id}",
        transaction_id=transaction_id,
        event_time=T0 + timedelta(minutes=minutes),
        card_token=card,
        score=score,
        decision=decision,  # type: ignore[arg-type]
        reasons=reasons or [],
        model_version=model_version,
        degraded=False,
        scored_at=T0 + timedelta(minutes=minutes, seconds=1),
        source="stream",
        transaction={
            "card_last4": CARD_LAST4.get(card),
            "amount": amount,
            "currency": "EUR",
            "terminal_id": terminal,
            "merchant_id": "M7",
            "mcc": "5732",
            "channel": "card_present",
            "entry_mode": "chip",
            "country": "FR",
        },
    )


def store(writer: DecisionWriter, events: list[DecisionEvent]) -> None:
    """Hand ``events`` to the records sink's writer as one consumed batch."""
    batch = [ConsumedEvent(e, "decisions", 0, i) for i, e in enumerate(events)]  # type: ignore[arg-type]
    writer(batch)
