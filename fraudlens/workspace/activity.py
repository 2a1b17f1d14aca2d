"""What the feature store holds of a case's card and terminal: the history the model reads.

The case page shows it beside the scored history from PostgreSQL: the card's
transactions of the last 31 days (times, amounts, terminals, countries) and
the terminal's daily counts and known frauds, as the online store has them
now. Rows after the case's own transaction are marked, so an analyst sees
what the model saw and what happened since.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fraudlens.errors import FeatureStoreError
from fraudlens.features.odfv import time_us
from fraudlens.features.state import US_PER_DAY, US_PER_SECOND, CardState, TerminalState

if TYPE_CHECKING:
    from fraudlens.scoring.interfaces import FeatureSource


@dataclass(frozen=True)
class StoredActivity:
    """The case page's feature-store section.

    Attributes:
        card: the card's stored transactions, newest first (at most ``shown``).
        card_total: how many the store holds for the card.
        terminal: the terminal's stored days, newest first: transactions, frauds known.
        error: why the store could not be read ("" when it was).
    """

    card: list[dict[str, Any]] = field(default_factory=list)
    card_total: int = 0
    terminal: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def _time(time_us: int) -> datetime:
    return datetime.fromtimestamp(time_us / US_PER_SECOND, UTC)


def stored_activity(
    card: CardState | None, terminal: TerminalState | None, case_us: int, shown: int = 10
) -> StoredActivity:
    """The rows to show of the stored states of a case made at ``case_us``."""
    card_rows = []
    if card is not None:
        for i in reversed(range(len(card.ts))):
            card_rows.append(
                {
                    "time": _time(card.ts[i]),
                    "amount": card.amount[i],
                    "terminal": card.terminal[i],
                    "country": card.country[i],
                    "after_case": card.ts[i] > case_us,
                }
            )
    days: dict[int, dict[str, Any]] = {}
    if terminal is not None:
        for day, tx in zip(terminal.day, terminal.tx, strict=True):
            days[day] = {"day": _time(day * US_PER_DAY).date(), "tx": tx, "frauds": 0}
        for fraud_day in terminal.fraud_day:
            row = days.setdefault(
                fraud_day, {"day": _time(fraud_day * US_PER_DAY).date(), "tx": 0, "frauds": 0}
            )
            row["frauds"] += 1
    terminal_rows = [days[d] for d in sorted(days, reverse=True)]
    return StoredActivity(card_rows[:shown], len(card_rows), terminal_rows[:shown])


def read_activity(features: FeatureSource | None, case: dict[str, Any]) -> StoredActivity | None:
    """The feature-store section of a case (None: the workspace has no feature store)."""
    if features is None:
        return None
    terminal = (case.get("transaction") or {}).get("terminal_id")
    try:
        card, term = features.stored_state(case["card_token"], terminal)
    except FeatureStoreError as exc:
        return StoredActivity(error=str(exc))
    return stored_activity(card, term, time_us(case["event_time"]))
