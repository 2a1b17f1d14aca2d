"""Incremental state blobs for a fold: the same bytes as ``state_codec``, cheaper.

A fold encodes one blob per event, and most events change a state a little:
a card gets one event at its end, a terminal one day's counters. Encoding
the whole state each time (``encode_card``) costs 15-25 us for a ~60-event
card, mostly its string table. ``CardBlobs`` and ``TerminalBlobs`` keep the
encoded columns of each entity's newest state and update them:

* card: the six 8-byte columns are bytearrays an event is inserted into and
  evicted events cut from. The string table and the codes are kept when the
  table does not change (an event at the end whose terminal, merchant and
  country the card already used); a new value at the end grows the table in
  place (the code columns after it are encoded again); anything else (a late
  event, evictions that reorder the table) builds the table again;
* terminal: the two fraud-mark columns are reused while the state shares the
  previous state's mark lists (``update_terminal_txn`` does not copy them).

The cache is checked against the state it encoded (by identity): a state
replaced from outside (a snapshot restore) is encoded from scratch. The
blobs are byte-for-byte ``encode_card`` / ``encode_terminal`` (unit-tested).

Each cache holds at most ``max_entities`` entities (about 3.5 KB for a card
of 50 events), the least recently used dropped first
(``features.encoder_cache_entities`` in the stream job): a dropped entity's
next blob is encoded from scratch, the same bytes.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections import OrderedDict
from itertools import accumulate, chain
from typing import TypeVar

from fraudlens.features.state import CardState, TerminalState, TxnEvent, coord
from fraudlens.features.state_codec import (
    CARD_FORMAT_VERSION,
    CARD_MAGIC,
    HEADER,
    TERMINAL_FORMAT_VERSION,
    TERMINAL_MAGIC,
    packed,
)

_Q = struct.Struct("<q").pack
_D = struct.Struct("<d").pack
_I = struct.Struct("<i").pack
_T = TypeVar("_T")


class _Card:
    """The encoded columns of one card state (see ``CardBlobs``)."""

    __slots__ = ("state", "floats", "codes", "table", "index", "bounds", "tail")

    def __init__(self, state: CardState) -> None:
        self.state = state
        self.floats = [
            bytearray(packed(code, values))
            for code, values in (
                ("q", state.ts),
                ("d", state.amount),
                ("d", state.lat),
                ("d", state.lon),
                ("q", state.device),
                ("q", state.ip),
            )
        ]
        self.table: list[str] = []
        self.index: dict[str, int] = {}
        self.bounds = (0, 0)
        self.codes: list[bytearray] = []
        self.tail = b""
        self._set_table(state, list(dict.fromkeys(chain(state.terminal, state.merchant))))

    def _set_table(self, state: CardState, head: list[str]) -> None:
        # head: the distinct terminals then merchants, in first-use order.
        table = list(dict.fromkeys(chain(head, state.country)))
        self.table = table
        self.index = index = dict(zip(table, range(len(table)), strict=True))
        # Codes below bounds[0] first appear as a terminal, below bounds[1] by
        # the merchants: a value seen only later would move up the table.
        self.bounds = (len(set(state.terminal)), len(head))
        self.codes = [
            bytearray(packed("i", [index[v] for v in values]))
            for values in (state.terminal, state.merchant, state.country)
        ]
        self.tail = _tail(table)

    def blob(self) -> bytes:
        state = self.state
        return b"".join(
            (
                HEADER.pack(CARD_MAGIC, CARD_FORMAT_VERSION, 0, len(state.ts), len(self.table)),
                *self.floats,
                *self.codes,
                self.tail,
            )
        )

    def update(self, old: CardState, new: CardState, event: TxnEvent) -> None:
        """Move from ``old`` (encoded here) to ``new`` = ``update_card(old, event)``."""
        n = len(old.ts)
        i = bisect_right(old.ts, event.time_us)
        start = n + 1 - len(new.ts)  # events evicted from the front
        self.state = new
        values = (
            _Q(event.time_us),
            _D(float(event.amount)),
            _D(coord(event.latitude)),
            _D(coord(event.longitude)),
            _Q(event.device),
            _Q(event.ip),
        )
        words = (event.terminal_id, event.merchant_id, event.country)
        if i == n and not start:  # the common case: one event at the end
            for column, value in zip(self.floats, values, strict=True):
                column += value
            if self._append(new, words):
                return
        else:
            for column, value in zip(self.floats, values, strict=True):
                column[8 * i : 8 * i] = value
                del column[: 8 * start]
        codes = [self.index.get(word, -1) for word in words]
        head = list(dict.fromkeys(chain(new.terminal, new.merchant)))
        if (
            head == self.table[: len(head)]
            and list(dict.fromkeys(chain(head, new.country))) == self.table
        ):
            # Same table (same codes): insert the event's codes, cut evictions.
            for column, code in zip(self.codes, codes, strict=True):
                column[4 * i : 4 * i] = _I(code)
                del column[: 4 * start]
            self.bounds = (len(set(new.terminal)), len(head))
            return
        self._set_table(new, head)

    def _append(self, new: CardState, words: tuple[str, str, str]) -> bool:
        """Add the codes of an event at the end of ``new``; False (codes unchanged)
        when the table would reorder: a value used before only in a later column."""
        index, table = self.index, self.table
        bounds = [*self.bounds, len(table)]  # where each column's new values go
        if index.get(words[0], -1) >= bounds[0] or index.get(words[1], -1) >= bounds[1]:
            return False
        grown = 3  # the first column that brought a new value
        for part, word in enumerate(words):
            if word in index:
                continue
            # A new value goes at the end of its column's block of the table;
            # the codes after it (later columns only) move up by one.
            at = bounds[part]
            table.insert(at, word)
            for j in range(at, len(table)):
                index[table[j]] = j
            for later in range(part, 3):
                bounds[later] += 1
            grown = min(grown, part)
        columns = (new.terminal, new.merchant, new.country)
        for part, (column, word) in enumerate(zip(self.codes, words, strict=True)):
            if part <= grown:
                column += _I(index[word])
            else:  # shifted codes: encode the column again (cheaper than patching it)
                column[:] = packed("i", [index[v] for v in columns[part]])
        if grown < 3:
            self.bounds = (bounds[0], bounds[1])
            self.tail = _tail(table)
        return True


def _tail(table: list[str]) -> bytes:
    """The string table's end offsets and text (the end of a card blob)."""
    ends = list(accumulate(map(len, table)))
    text = "".join(table).encode()
    if ends and len(text) != ends[-1]:  # not all ASCII: count bytes
        ends = list(accumulate(len(value.encode()) for value in table))
    return packed("I", ends) + text


def _touch(cache: OrderedDict[str, _T], key: str, max_entities: int | None) -> None:
    """Mark ``key`` used now; drop the least recently used entity over the bound."""
    if max_entities is not None:
        cache.move_to_end(key)
        if len(cache) > max_entities:
            cache.popitem(last=False)


class CardBlobs:
    """The newest blob of each card, updated per event (a fold's cache).

    Args:
        max_entities: most cards kept (least recently used dropped); None: all.
    """

    def __init__(self, max_entities: int | None = None) -> None:
        self._cards: OrderedDict[str, _Card] = OrderedDict()
        self.max_entities = max_entities

    def __len__(self) -> int:
        return len(self._cards)

    def after(self, key: str, old: CardState | None, new: CardState, event: TxnEvent) -> bytes:
        """The blob of ``new`` = ``update_card(old, event)`` for card ``key``."""
        card = self._cards.get(key)
        if card is None or old is None or card.state is not old:
            card = self._cards[key] = _Card(new)
        else:
            card.update(old, new, event)
        _touch(self._cards, key, self.max_entities)
        return card.blob()


class TerminalBlobs:
    """Terminal blobs that reuse the encoded fraud marks while they are unchanged.

    Args:
        max_entities: most terminals kept (least recently used dropped); None: all.
    """

    def __init__(self, max_entities: int | None = None) -> None:
        self._marks: OrderedDict[str, tuple[list[int], list[int], bytes]] = OrderedDict()
        self.max_entities = max_entities

    def __len__(self) -> int:
        return len(self._marks)

    def blob(self, key: str, state: TerminalState) -> bytes:
        """The blob of a terminal's state (``encode_terminal``'s bytes)."""
        label_us, fraud_day = state.fraud_label_us, state.fraud_day
        cached = self._marks.get(key)
        if cached is not None and cached[0] is label_us and cached[1] is fraud_day:
            marks = cached[2]
        else:
            if len(label_us) != len(fraud_day):
                raise ValueError("terminal state lists differ in length")
            marks = packed("q", label_us) + packed("q", fraud_day)
            self._marks[key] = (label_us, fraud_day, marks)
        _touch(self._marks, key, self.max_entities)
        days = len(state.day)
        if len(state.tx) != days or len(state.amount_cents) != days:
            raise ValueError("terminal state lists differ in length")
        return b"".join(
            (
                HEADER.pack(TERMINAL_MAGIC, TERMINAL_FORMAT_VERSION, 0, days, len(label_us)),
                packed("q", state.day),
                packed("q", state.tx),
                packed("q", state.amount_cents),
                marks,
            )
        )
