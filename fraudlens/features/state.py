"""Compact per-entity state and the pure functions that update it.

Every runner (stream job, Spark backfill) folds the same events through the
same functions here, and every reader (ODFVs, unit tests) turns the same state
back into features with ``fraudlens.features.definitions``.

Times are integer microseconds since the Unix epoch (UTC) throughout.

Card state (one per ``card_token``): the card's recent transactions as
parallel lists sorted by time (time, amount, terminal, merchant, country,
latitude, longitude, device and IP codes: ``fraudlens.features.online_ids``,
never the values themselves). Events older than ``CARD_RETENTION_US`` (31 days) before
the newest applied event are dropped, and at most ``CARD_MAX_EVENTS`` are kept.
Features use windows of at most 30 days, so a stored state that is up to one
day "ahead" of a request (it already holds later events) still gives exact
features for that request.

Terminal state (one per ``terminal_id``): transaction counts per UTC day, and
fraud marks. A fraud mark is added when a fraud LABEL arrives (at its
``label_time``), not when the transaction happened; it records the label time
and the UTC day of the fraudulent transaction, so a feature at time t can use
only the labels that had arrived before t. Days older than
``terminal_retention_days(matured_delay_days)`` (38 with the default 7-day
delay) before the newest applied event are dropped.

In the stores, each state is one blob (``fraudlens.features.state_codec``).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import NamedTuple

from fraudlens.features.online_ids import NO_ID

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
RETENTION_DAYS = 31
CARD_RETENTION_US = RETENTION_DAYS * US_PER_DAY
CARD_MAX_EVENTS = 512
# Matured terminal risk: its windows end this many whole days before today, when
# many fraud labels have arrived (the Fraud Detection Handbook's 7 days; in the
# default simulation the median label delay is 6.7 days: 51 % of labels arrive
# within 7 days, 83 % within 14). The default of the setting
# ``features.matured_delay_days``; every runner receives the configured value
# as a parameter (``matured_delay_days``), never reads it here.
DEFAULT_MATURED_DELAY_DAYS = 7
MAX_MATURED_DELAY_DAYS = 60
# The longest terminal window (30 days) before the newest matured day.
_TERMINAL_SPAN_DAYS = 30


def terminal_retention_days(matured_delay_days: int) -> int:
    """UTC days a terminal state keeps: the 30-day windows ending ``delay`` days
    before today, plus today (the matured windows reach back ``30 + delay`` days)."""
    return _TERMINAL_SPAN_DAYS + matured_delay_days + 1


TERMINAL_RETENTION_DAYS = terminal_retention_days(DEFAULT_MATURED_DELAY_DAYS)
TERMINAL_MAX_FRAUD_MARKS = 1024
# Stored in the coordinate lists when a transaction has no location: the
# arrays stay dense (no nulls, one float64 per event).
MISSING_COORD = 999.0


class TxnEvent(NamedTuple):
    """The fields of a transaction that features use (also the request)."""

    transaction_id: str
    time_us: int
    card_token: str
    terminal_id: str
    merchant_id: str
    country: str
    amount: float
    latitude: float = MISSING_COORD
    longitude: float = MISSING_COORD
    device: int = NO_ID  # ``online_ids.device_code`` of the device id
    ip: int = NO_ID  # ``online_ids.ip_code`` of the IP address


class FraudMark(NamedTuple):
    """A fraud label that applies to a terminal (see ``label_applies``)."""

    transaction_id: str
    terminal_id: str
    label_us: int
    txn_us: int


@dataclass(slots=True)
class CardState:
    """A card's transactions of the last 31 days, sorted by time."""

    ts: list[int] = field(default_factory=list)
    amount: list[float] = field(default_factory=list)
    terminal: list[str] = field(default_factory=list)
    merchant: list[str] = field(default_factory=list)
    country: list[str] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    device: list[int] = field(default_factory=list)
    ip: list[int] = field(default_factory=list)


@dataclass(slots=True)
class TerminalState:
    """A terminal's daily transaction counts and amounts, and arrived fraud labels.

    Amounts are summed in whole cents (``amount_cents``): integer sums do not
    depend on the order runners fold a day's transactions in.
    """

    day: list[int] = field(default_factory=list)
    tx: list[int] = field(default_factory=list)
    amount_cents: list[int] = field(default_factory=list)
    fraud_label_us: list[int] = field(default_factory=list)
    fraud_day: list[int] = field(default_factory=list)


# Feast/Parquet columns of the state rows: (column, what it holds, type). Each
# state is one blob (``fraudlens.features.state_codec``). Every runner and the
# feature repo use these.
CARD_BLOB = "c_state"
TERMINAL_BLOB = "t_state"
CARD_COLUMNS: tuple[tuple[str, str, str], ...] = ((CARD_BLOB, "card state", "bytes"),)
TERMINAL_COLUMNS: tuple[tuple[str, str, str], ...] = ((TERMINAL_BLOB, "terminal state", "bytes"),)
CARD_KEY = "card_token"
TERMINAL_KEY = "terminal_id"
STATE_TS = "state_ts"


def utc_day(time_us: int) -> int:
    """UTC day number (days since 1970-01-01) of a time in microseconds."""
    return time_us // US_PER_DAY


def coord(value: float | None) -> float:
    """A latitude/longitude as stored in state: ``MISSING_COORD`` when unknown."""
    if value is None or value != value or not -180.0 <= value <= 180.0:
        return MISSING_COORD
    return float(value)


def update_card(state: CardState | None, event: TxnEvent) -> CardState:
    """Return the card state after ``event`` (the input is not modified).

    Events are inserted at their time position (after equal times), so a
    late event is handled; then the 31-day retention and the size cap apply.
    """
    old = state or CardState()
    i = bisect_right(old.ts, event.time_us)
    new = CardState(
        ts=[*old.ts[:i], event.time_us, *old.ts[i:]],
        amount=[*old.amount[:i], float(event.amount), *old.amount[i:]],
        terminal=[*old.terminal[:i], event.terminal_id, *old.terminal[i:]],
        merchant=[*old.merchant[:i], event.merchant_id, *old.merchant[i:]],
        country=[*old.country[:i], event.country, *old.country[i:]],
        lat=[*old.lat[:i], coord(event.latitude), *old.lat[i:]],
        lon=[*old.lon[:i], coord(event.longitude), *old.lon[i:]],
        device=[*old.device[:i], event.device, *old.device[i:]],
        ip=[*old.ip[:i], event.ip, *old.ip[i:]],
    )
    horizon = new.ts[-1] - CARD_RETENTION_US
    start = max(bisect_right(new.ts, horizon - 1), len(new.ts) - CARD_MAX_EVENTS)
    if start > 0:
        for name in CardState.__slots__:
            del getattr(new, name)[:start]
    return new


def _evict_days(state: TerminalState, newest_day: int, retention_days: int) -> None:
    first = newest_day - retention_days
    if state.day and state.day[0] < first:  # days are sorted
        keep = [i for i, d in enumerate(state.day) if d >= first]
        state.day = [state.day[i] for i in keep]
        state.tx = [state.tx[i] for i in keep]
        state.amount_cents = [state.amount_cents[i] for i in keep]
    marks_kept = min(state.fraud_day, default=first) >= first
    if marks_kept and len(state.fraud_day) <= TERMINAL_MAX_FRAUD_MARKS:
        return  # no mark to drop: the mark lists stay the same objects
    marks = [i for i, d in enumerate(state.fraud_day) if d >= first]
    marks = marks[-TERMINAL_MAX_FRAUD_MARKS:]
    if len(marks) != len(state.fraud_day):
        state.fraud_label_us = [state.fraud_label_us[i] for i in marks]
        state.fraud_day = [state.fraud_day[i] for i in marks]


def _copy_terminal(old: TerminalState) -> TerminalState:
    return TerminalState(
        list(old.day),
        list(old.tx),
        list(old.amount_cents),
        list(old.fraud_label_us),
        list(old.fraud_day),
    )


def amount_cents(amount: float) -> int:
    """An amount in whole cents (half-cents round to even), as terminal states sum it."""
    return round(amount * 100.0)


def update_terminal_txn(
    state: TerminalState | None,
    time_us: int,
    amount: float,
    *,
    retention_days: int = TERMINAL_RETENTION_DAYS,
) -> TerminalState:
    """Return the terminal state after one transaction of ``amount`` at ``time_us``.

    ``retention_days`` is ``terminal_retention_days(matured_delay_days)`` of the
    configured delay (runners pass it; the default is the default delay's).

    The new state shares the input's fraud-mark lists (nothing here changes
    them in place): a fold's encoder reuses their encoding.
    """
    old = state or TerminalState()
    new = TerminalState(
        list(old.day), list(old.tx), list(old.amount_cents), old.fraud_label_us, old.fraud_day
    )
    day = utc_day(time_us)
    cents = amount_cents(amount)
    i = bisect_right(new.day, day)
    if i > 0 and new.day[i - 1] == day:
        new.tx[i - 1] += 1
        new.amount_cents[i - 1] += cents
    else:
        new.day.insert(i, day)
        new.tx.insert(i, 1)
        new.amount_cents.insert(i, cents)
    _evict_days(new, max(day, new.day[-1]), retention_days)
    return new


def update_terminal_fraud(
    state: TerminalState | None,
    mark: FraudMark,
    *,
    retention_days: int = TERMINAL_RETENTION_DAYS,
) -> TerminalState:
    """Return the terminal state after a fraud label arrived (``mark.label_us``).

    ``retention_days``: as in ``update_terminal_txn``.
    """
    new = _copy_terminal(state or TerminalState())
    i = bisect_right(new.fraud_label_us, mark.label_us)
    new.fraud_label_us.insert(i, mark.label_us)
    new.fraud_day.insert(i, utc_day(mark.txn_us))
    newest = max(utc_day(mark.label_us), new.day[-1] if new.day else 0)
    _evict_days(new, newest, retention_days)
    return new


def label_applies(is_fraud: bool, label_us: int, txn_us: int, max_label_delay_us: int) -> bool:
    """Whether a label becomes a terminal fraud mark (the rule both runners use).

    Only fraud labels count, only the first one per transaction (runners
    dedupe), and only when it arrives after the transaction and within
    ``max_label_delay_us`` of it.
    """
    return is_fraud and txn_us < label_us <= txn_us + max_label_delay_us
