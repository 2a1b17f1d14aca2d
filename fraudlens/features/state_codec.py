"""The stored form of a state: one versioned little-endian columnar blob.

Each state view holds ONE Feast ``Bytes`` feature per entity (``c_state``,
``t_state``): Feast then converts one value per entity to and from protobuf
instead of one per list element, and a reader turns a blob into numpy arrays
with ``np.frombuffer`` (no copy, no Python loop over events).

Card blob, format 2 (all little-endian)::

    0   magic b"FLcs", uint16 version, uint16 0
    8   uint32 n (events), uint32 k (strings in the table)
    16  int64 ts[n] | float64 amount[n] | float64 lat[n] | float64 lon[n]
        int64 device[n] | int64 ip[n]    (``online_ids`` codes, never the values)
        int32 terminal[n] | int32 merchant[n] | int32 country[n]   (table codes)
        uint32 end[k]                    (byte offset where string i ends)
        utf-8 text of the k strings, back to back

The three string columns share one table of the distinct values (a card
uses a few terminals, merchants and countries many times). Latitude and
longitude stay float64: the features must see the exact values the fold saw.

Format 1 (the previous release) has no device and IP columns. It is still
read: its events get ``UNKNOWN_ID`` for both, so a device the card may have
used before the upgrade never looks new (the novelty features say "unknown"
until those events leave the 30-day window); the next event of the card
writes format 2.

Terminal blob, format 1::

    0   magic b"FLts", uint16 version, uint16 0
    8   uint32 n (days), uint32 m (fraud marks)
    16  int64 day[n] | int64 tx[n] | int64 amount_cents[n]
        int64 fraud_label_us[m] | int64 fraud_day[m]

The 8-byte arrays come first, right after a 16-byte header, so they are
aligned. A reader refuses a blob with another magic, an unknown version or a
length that does not match its header (truncated or padded), with a
``FeatureStoreError`` that says which. A format change bumps the version
(card and terminal blobs have their own).
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, chain
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fraudlens.errors import FeatureStoreError
from fraudlens.features.online_ids import UNKNOWN_ID
from fraudlens.features.state import CARD_BLOB, TERMINAL_BLOB, CardState, TerminalState

CARD_FORMAT_VERSION = 2
CARD_READ_VERSIONS = (1, 2)  # format 1: no device / IP columns (read as unknown)
TERMINAL_FORMAT_VERSION = 1
CARD_MAGIC = b"FLcs"
TERMINAL_MAGIC = b"FLts"
HEADER = struct.Struct("<4sHHII")  # magic, version, reserved, two counts
HEADER_SIZE = HEADER.size  # 16
_BIG_ENDIAN = sys.byteorder == "big"

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Codes = NDArray[np.int32]


def packed(code: str, values: Sequence[Any]) -> bytes:
    """``values`` as little-endian machine values of ``array`` type ``code``."""
    # array() converts a Python list several times faster than numpy does.
    out = array(code, values)
    if _BIG_ENDIAN:
        out.byteswap()
    return out.tobytes()


def encode_card(state: CardState) -> bytes:
    """The blob of a card state (see the module docstring for the layout).

    Raises:
        ValueError: the state's lists differ in length.
    """
    n = len(state.ts)
    if any(len(getattr(state, name)) != n for name in CardState.__slots__):
        raise ValueError("card state lists differ in length")
    table = list(dict.fromkeys(chain(state.terminal, state.merchant, state.country)))
    index = dict(zip(table, range(len(table)), strict=True))
    ends = list(accumulate(map(len, table)))
    text = "".join(table).encode()
    if ends and len(text) != ends[-1]:  # not all ASCII: count bytes, not characters
        ends = list(accumulate(len(value.encode()) for value in table))
    return b"".join(
        (
            HEADER.pack(CARD_MAGIC, CARD_FORMAT_VERSION, 0, n, len(table)),
            packed("q", state.ts),
            packed("d", state.amount),
            packed("d", state.lat),
            packed("d", state.lon),
            packed("q", state.device),
            packed("q", state.ip),
            packed("i", [index[v] for v in state.terminal]),
            packed("i", [index[v] for v in state.merchant]),
            packed("i", [index[v] for v in state.country]),
            packed("I", ends),
            text,
        )
    )


def encode_terminal(state: TerminalState) -> bytes:
    """The blob of a terminal state.

    Raises:
        ValueError: the day lists or the mark lists differ in length.
    """
    days, marks = len(state.day), len(state.fraud_label_us)
    if len(state.tx) != days or len(state.amount_cents) != days or len(state.fraud_day) != marks:
        raise ValueError("terminal state lists differ in length")
    return b"".join(
        (
            HEADER.pack(TERMINAL_MAGIC, TERMINAL_FORMAT_VERSION, 0, days, marks),
            packed("q", state.day),
            packed("q", state.tx),
            packed("q", state.amount_cents),
            packed("q", state.fraud_label_us),
            packed("q", state.fraud_day),
        )
    )


def card_wide_columns(version: int) -> int:
    """How many 8-byte columns a card blob of ``version`` has (format 1: no device, IP)."""
    return 4 if version == 1 else 6


def _header(
    blob: bytes, magic: bytes, what: str, versions: tuple[int, ...]
) -> tuple[int, int, int]:
    """The version and the two counts of a blob's header."""
    if len(blob) < HEADER_SIZE:
        raise FeatureStoreError(f"{what} state blob truncated: {len(blob)} bytes, no header")
    found, version, _, a, b = HEADER.unpack_from(blob)
    if found != magic:
        raise FeatureStoreError(f"{what} state blob has magic {found!r}, expected {magic!r}")
    if version not in versions:
        raise FeatureStoreError(
            f"{what} state blob format version {version} is unknown (this reader: "
            f"{', '.join(map(str, versions))}); re-backfill the store or upgrade the reader"
        )
    return version, a, b


def _as_bytes(blob: Any, what: str) -> bytes:
    if type(blob) is bytes:
        return blob
    if isinstance(blob, bytearray | memoryview):
        return bytes(blob)
    raise FeatureStoreError(
        f"{what} state is {type(blob).__name__}, not a blob: a store written before "
        "the blob format (list columns) must be re-backfilled"
    )


class CardViews(NamedTuple):
    """A card blob's arrays (read-only views into the blob) and its string table.

    The table stays encoded in the blob (``text_at`` on, ``ends``): a batch
    reader only needs the request's codes (``code``), not every string.
    """

    ts: Ints
    amount: Floats
    lat: Floats
    lon: Floats
    device: Ints
    ip: Ints
    terminal: Codes
    merchant: Codes
    country: Codes
    blob: bytes
    text_at: int
    ends: list[int]

    def table(self) -> list[str]:
        """The strings of the table, in code order.

        Raises:
            FeatureStoreError: the table is not utf-8.
        """
        text, ends = self.blob[self.text_at :], self.ends
        try:
            return [text[a:b].decode() for a, b in zip([0, *ends], ends, strict=False)]
        except UnicodeDecodeError as exc:
            raise FeatureStoreError(f"card state blob's string table is not utf-8: {exc}") from exc

    def code(self, value: str) -> int:
        """The code of ``value`` in the table; -1 when the card never used it."""
        want, ends, base = value.encode(), self.ends, self.text_at
        size = len(want)
        if not size:
            sizes = [b - a for a, b in zip([0, *ends], ends, strict=False)]
            return sizes.index(0) if 0 in sizes else -1
        found = self.blob.find(want, base)
        while found >= 0:
            # A hit counts only where a whole string of the table starts and ends.
            start = found - base
            i = bisect_left(ends, start + size)
            if i < len(ends) and ends[i] == start + size and (ends[i - 1] if i else 0) == start:
                return i
            found = self.blob.find(want, found + 1)
        return -1


def card_views(blob: bytes, *, check_codes: bool = True) -> CardViews:
    """The arrays of a card blob, zero-copy (``np.frombuffer``).

    Args:
        blob: a card state blob.
        check_codes: refuse codes outside the table here (a batch reader that
            checks them vectorized after concatenating may skip it).

    Raises:
        FeatureStoreError: not a card blob, an unknown version, a length that
            does not match the header, or a code outside the string table.
    """
    blob = _as_bytes(blob, "card")
    version, n, k = _header(blob, CARD_MAGIC, "card", CARD_READ_VERSIONS)
    columns = card_wide_columns(version)
    text_at = HEADER_SIZE + (8 * columns + 12) * n + 4 * k
    if len(blob) < text_at:
        raise FeatureStoreError(
            f"card state blob truncated: {len(blob)} bytes for {n} events and {k} strings"
        )
    wide = np.frombuffer(blob, dtype="<i8", count=columns * n, offset=HEADER_SIZE)
    floats = wide.view("<f8")
    narrow = np.frombuffer(blob, dtype="<i4", count=3 * n + k, offset=HEADER_SIZE + 8 * columns * n)
    ends = narrow[3 * n :].view("<u4").tolist()
    size = text_at + (ends[-1] if ends else 0)
    if len(blob) != size:
        raise FeatureStoreError(f"card state blob is {len(blob)} bytes, its header says {size}")
    codes = narrow[: 3 * n]
    if check_codes and n and (int(codes.min()) < 0 or int(codes.max()) >= k):
        raise FeatureStoreError("card state blob has a string code outside its table")
    unknown = np.full(n if version == 1 else 0, UNKNOWN_ID, dtype=np.int64)
    return CardViews(
        ts=wide[:n],
        amount=floats[n : 2 * n],
        lat=floats[2 * n : 3 * n],
        lon=floats[3 * n : 4 * n],
        device=wide[4 * n : 5 * n] if version > 1 else unknown,
        ip=wide[5 * n : 6 * n] if version > 1 else unknown,
        terminal=codes[:n],
        merchant=codes[n : 2 * n],
        country=codes[2 * n :],
        blob=blob,
        text_at=text_at,
        ends=ends,
    )


def decode_card(blob: bytes) -> CardState:
    """The card state of a blob (Python lists, the form the fold and definitions use).

    Raises:
        FeatureStoreError: see ``card_views``.
    """
    v = card_views(blob)
    table = v.table()
    return CardState(
        ts=v.ts.tolist(),
        amount=v.amount.tolist(),
        terminal=[table[c] for c in v.terminal.tolist()],
        merchant=[table[c] for c in v.merchant.tolist()],
        country=[table[c] for c in v.country.tolist()],
        lat=v.lat.tolist(),
        lon=v.lon.tolist(),
        device=v.device.tolist(),
        ip=v.ip.tolist(),
    )


class TerminalViews(NamedTuple):
    """A terminal blob's arrays (read-only views into the blob)."""

    day: Ints
    tx: Ints
    amount_cents: Ints
    fraud_label_us: Ints
    fraud_day: Ints


def terminal_views(blob: bytes) -> TerminalViews:
    """The arrays of a terminal blob, zero-copy.

    Raises:
        FeatureStoreError: not a terminal blob, an unknown version, or a
            length that does not match the header.
    """
    blob = _as_bytes(blob, "terminal")
    _, n, m = _header(blob, TERMINAL_MAGIC, "terminal", (TERMINAL_FORMAT_VERSION,))
    size = HEADER_SIZE + 8 * (3 * n + 2 * m)
    if len(blob) != size:
        raise FeatureStoreError(
            f"terminal state blob is {len(blob)} bytes, its header ({n} days, {m} marks) "
            f"says {size}"
        )
    a = np.frombuffer(blob, dtype="<i8", count=3 * n + 2 * m, offset=HEADER_SIZE)
    return TerminalViews(
        day=a[:n],
        tx=a[n : 2 * n],
        amount_cents=a[2 * n : 3 * n],
        fraud_label_us=a[3 * n : 3 * n + m],
        fraud_day=a[3 * n + m :],
    )


def decode_terminal(blob: bytes) -> TerminalState:
    """The terminal state of a blob.

    Raises:
        FeatureStoreError: see ``terminal_views``.
    """
    v = terminal_views(blob)
    return TerminalState(
        day=v.day.tolist(),
        tx=v.tx.tolist(),
        amount_cents=v.amount_cents.tolist(),
        fraud_label_us=v.fraud_label_us.tolist(),
        fraud_day=v.fraud_day.tolist(),
    )


def card_row(state: CardState) -> dict[str, bytes]:
    """The Feast/Parquet columns of a card state."""
    return {CARD_BLOB: encode_card(state)}


def terminal_row(state: TerminalState) -> dict[str, bytes]:
    """The Feast/Parquet columns of a terminal state."""
    return {TERMINAL_BLOB: encode_terminal(state)}


def card_from_row(row: dict[str, Any]) -> CardState | None:
    """The card state of stored columns; None when there is none.

    A missing value (an entity never seen) and an empty state both mean "no
    state", so online and offline reads agree.

    Raises:
        FeatureStoreError: the blob is not readable (see ``card_views``).
    """
    blob = row.get(CARD_BLOB)
    if blob is None:
        return None
    state = decode_card(blob)
    return state if state.ts else None


def terminal_from_row(row: dict[str, Any]) -> TerminalState | None:
    """The terminal state of stored columns; None when there is none.

    Raises:
        FeatureStoreError: the blob is not readable (see ``terminal_views``).
    """
    blob = row.get(TERMINAL_BLOB)
    if blob is None:
        return None
    state = decode_terminal(blob)
    return state if state.day or state.fraud_day else None
