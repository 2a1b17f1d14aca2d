"""Fold time-ordered events into entity states and the state rows to store.

Both runners use this module, so the rows they produce are the same:

* events are applied in the order ``(time, kind, id)``: transactions
  (kind 0) before labels (kind 1) at the same microsecond;
* after the last event of an entity at a given time, one row is emitted with
  ``state_ts`` = that time. A point-in-time join at time t then picks a row
  that holds every event before t.

``StateFolder`` keeps state across calls (stream job); the Spark job folds
one entity's full history at a time with ``fold_card`` / ``fold_terminal``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from fraudlens.features.state import (
    CARD_BLOB,
    CARD_KEY,
    DEFAULT_MATURED_DELAY_DAYS,
    STATE_TS,
    TERMINAL_BLOB,
    TERMINAL_KEY,
    CardState,
    FraudMark,
    TerminalState,
    TxnEvent,
    label_applies,
    terminal_retention_days,
    update_card,
    update_terminal_fraud,
    update_terminal_txn,
)
from fraudlens.features.state_codec import card_row, terminal_row
from fraudlens.features.state_encoder import CardBlobs, TerminalBlobs


class LabelEvent(NamedTuple):
    """The fields of a label that the feature runners use."""

    transaction_id: str
    time_us: int
    is_fraud: bool


Event = TxnEvent | LabelEvent


def event_order(event: Event) -> tuple[int, int, str]:
    """The sort key both runners apply events in."""
    return (event.time_us, 0 if isinstance(event, TxnEvent) else 1, event.transaction_id)


def _card_rows(key: str, states: Iterable[tuple[int, CardState]]) -> Iterator[dict[str, Any]]:
    for ts, state in states:
        yield {CARD_KEY: key, STATE_TS: ts, **card_row(state)}


def _terminal_rows(
    key: str, states: Iterable[tuple[int, TerminalState]]
) -> Iterator[dict[str, Any]]:
    for ts, state in states:
        yield {TERMINAL_KEY: key, STATE_TS: ts, **terminal_row(state)}


def fold_card(key: str, events: Iterable[TxnEvent]) -> list[dict[str, Any]]:
    """All state rows of one card from its whole history (any order)."""
    emitted: dict[int, CardState] = {}
    state: CardState | None = None
    for event in sorted(events, key=event_order):
        state = update_card(state, event)
        emitted[event.time_us] = state
    return list(_card_rows(key, emitted.items()))


def fold_terminal(
    key: str,
    txns: Iterable[tuple[int, float]],
    marks: Iterable[FraudMark],
    *,
    matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS,
) -> list[dict[str, Any]]:
    """All state rows of one terminal from its transactions and fraud marks.

    ``marks`` must already follow ``label_applies`` and be one per transaction;
    the states keep the days ``matured_delay_days`` needs.
    """
    retention = terminal_retention_days(matured_delay_days)
    items: list[tuple[int, int, str, float, FraudMark | None]] = [
        (t, 0, "", amount, None) for t, amount in txns
    ]
    items += [(m.label_us, 1, m.transaction_id, 0.0, m) for m in marks]
    items.sort(key=lambda item: item[:3])
    emitted: dict[int, TerminalState] = {}
    state: TerminalState | None = None
    for time_us, _, _, amount, mark in items:
        if mark is None:
            state = update_terminal_txn(state, time_us, amount, retention_days=retention)
        else:
            state = update_terminal_fraud(state, mark, retention_days=retention)
        emitted[time_us] = state
    return list(_terminal_rows(key, emitted.items()))


@dataclass
class FoldResult:
    """Rows produced by one ``StateFolder.apply`` call."""

    card_rows: list[dict[str, Any]] = field(default_factory=list)
    terminal_rows: list[dict[str, Any]] = field(default_factory=list)
    # The transactions applied (duplicates skipped): each has a card row and a
    # terminal row at its time above, hence its feature row
    # (``fraudlens.features.transaction_rows.rows_from_states``).
    transactions: list[TxnEvent] = field(default_factory=list)
    # The folder's delay: the feature rows of these transactions use it too.
    matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS

    @staticmethod
    def latest(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        """The last row of each entity (what the online store needs)."""
        return list({row[key]: row for row in rows}.values())


@dataclass
class _IndexEntry:
    terminal_id: str
    txn_us: int
    marked: bool = False


class StateFolder:
    """Entity states kept across micro-batches (the stream runner's memory).

    A transaction id seen before is a duplicate and is skipped (Spark drops
    duplicates the same way); the transaction index that maps labels to
    terminals keeps ids for ``max_label_delay_us``.

    Args:
        max_label_delay_us: labels later than this after their transaction are
            ignored; it is also how long the transaction index keeps an entry.
        encoder_cache_entities: most cards, and most terminals, whose encoded
            blob is kept for the next event (``state_encoder``); None: all.
            The rows are the same either way.
        matured_delay_days: ``features.matured_delay_days``; terminal states
            keep ``state.terminal_retention_days`` of it.
    """

    # The blob caches are slots, outside ``vars(self)``: a snapshot
    # (``fraudlens.features.checkpoint``) holds the state, not its encoding.
    # The delay is a slot too: snapshots record its retention in their header.
    __slots__ = ("__dict__", "_card_blobs", "_terminal_blobs", "matured_delay_days")

    def __init__(
        self,
        max_label_delay_us: int,
        encoder_cache_entities: int | None = None,
        *,
        matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS,
    ) -> None:
        self.max_label_delay_us = max_label_delay_us
        self.matured_delay_days = matured_delay_days
        self.cards: dict[str, CardState] = {}
        self.terminals: dict[str, TerminalState] = {}
        self._index: dict[str, _IndexEntry] = {}
        self._index_order: deque[tuple[int, str]] = deque()
        self._clock_us = 0
        self.duplicates = 0
        self.ignored_labels = 0
        # Each event's new state is encoded at once, from the previous blob.
        self._card_blobs = CardBlobs(encoder_cache_entities)
        self._terminal_blobs = TerminalBlobs(encoder_cache_entities)

    @property
    def retention_days(self) -> int:
        """UTC days each terminal state keeps (``state.terminal_retention_days``)."""
        return terminal_retention_days(self.matured_delay_days)

    def apply(self, events: Iterable[Event]) -> FoldResult:
        """Apply events (sorted here by ``event_order``) and return the new rows."""
        cards: dict[tuple[str, int], bytes] = {}
        terminals: dict[tuple[str, int], bytes] = {}
        card_blob, terminal_blob = self._card_blobs.after, self._terminal_blobs.blob
        applied: list[TxnEvent] = []
        retention = self.retention_days
        for event in sorted(events, key=event_order):
            self._clock_us = max(self._clock_us, event.time_us)
            if isinstance(event, TxnEvent):
                if event.transaction_id in self._index:
                    self.duplicates += 1
                    continue
                self._index[event.transaction_id] = _IndexEntry(event.terminal_id, event.time_us)
                self._index_order.append((event.time_us, event.transaction_id))
                applied.append(event)
                key = event.card_token
                old = self.cards.get(key)
                card = self.cards[key] = update_card(old, event)
                cards[(key, event.time_us)] = card_blob(key, old, card, event)
                key = event.terminal_id
                term = update_terminal_txn(
                    self.terminals.get(key),
                    event.time_us,
                    event.amount,
                    retention_days=retention,
                )
                self.terminals[key] = term
                terminals[(key, event.time_us)] = terminal_blob(key, term)
                continue
            mark = self._mark(event)
            if mark is None:
                self.ignored_labels += 1
                continue
            term = update_terminal_fraud(
                self.terminals.get(mark.terminal_id), mark, retention_days=retention
            )
            self.terminals[mark.terminal_id] = term
            terminals[(mark.terminal_id, event.time_us)] = terminal_blob(mark.terminal_id, term)
        self._evict_index()
        return FoldResult(
            card_rows=[{CARD_KEY: k, STATE_TS: ts, CARD_BLOB: b} for (k, ts), b in cards.items()],
            terminal_rows=[
                {TERMINAL_KEY: k, STATE_TS: ts, TERMINAL_BLOB: b}
                for (k, ts), b in terminals.items()
            ],
            transactions=applied,
            matured_delay_days=self.matured_delay_days,
        )

    def card_rows(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """Current state rows of some cards (stamped with their newest event)."""
        states = {(k, self.cards[k].ts[-1]): self.cards[k] for k in keys if k in self.cards}
        return list(_card_rows_keyed(states))

    def terminal_rows(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """Current state rows of some terminals (stamped with the folder's clock)."""
        states = {(k, self._clock_us): self.terminals[k] for k in keys if k in self.terminals}
        return list(_terminal_rows_keyed(states))

    def _mark(self, label: LabelEvent) -> FraudMark | None:
        entry = self._index.get(label.transaction_id)
        if entry is None or entry.marked:
            return None
        if not label_applies(label.is_fraud, label.time_us, entry.txn_us, self.max_label_delay_us):
            return None
        entry.marked = True
        return FraudMark(label.transaction_id, entry.terminal_id, label.time_us, entry.txn_us)

    def _evict_index(self) -> None:
        # Events are applied in time order, so an entry older than the clock
        # minus the maximum delay can never match a label again.
        horizon = self._clock_us - self.max_label_delay_us
        order = self._index_order
        while order and order[0][0] < horizon:
            _, txn_id = order.popleft()
            self._index.pop(txn_id, None)


def _card_rows_keyed(states: dict[tuple[str, int], CardState]) -> Iterator[dict[str, Any]]:
    for (key, ts), state in states.items():
        yield {CARD_KEY: key, STATE_TS: ts, **card_row(state)}


def _terminal_rows_keyed(
    states: dict[tuple[str, int], TerminalState],
) -> Iterator[dict[str, Any]]:
    for (key, ts), state in states.items():
        yield {TERMINAL_KEY: key, STATE_TS: ts, **terminal_row(state)}
