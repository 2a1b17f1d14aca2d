"""Decisions for the workspace tests, shaped as the decisions topic carries them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fraudlens.features.odfv import time_us
from fraudlens.features.state import US_PER_DAY, CardState, TerminalState
from fraudlens.kafka.consumer import ConsumedEvent
from fraudlens.records.sink import DecisionWriter
from fraudlens.scoring.fakes import FakeFeatures
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
        decision=decision,
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


def stored_features() -> FakeFeatures:
    """A feature store holding card A's last transactions and the terminal's days.

    Card A: two sales before its case a2 (T0 + 10 min) and one 40 minutes after;
    the terminal: three days of sales, one fraud known on the day before T0.
    """
    features = FakeFeatures()
    t0, day = time_us(T0), time_us(T0) // US_PER_DAY
    minute = 60 * 10**6
    features.cards[CARD_A] = CardState(
        ts=[t0 - 90 * minute, t0 - 30 * minute, t0 + 50 * minute],
        amount=[12.5, 33.0, 777.0],
        terminal=["T9", TERMINAL, "T77"],
        merchant=["M9", "M7", "M77"],
        country=["FR", "FR", "BE"],
        lat=[48.8, 48.8, 50.8],
        lon=[2.3, 2.3, 4.3],
    )
    features.terminals[TERMINAL] = TerminalState(
        day=[day - 2, day - 1, day],
        tx=[41, 38, 5],
        amount_cents=[410_000, 380_000, 50_000],
        fraud_label_us=[t0 - 3 * minute],
        fraud_day=[day - 1],
    )
    return features
