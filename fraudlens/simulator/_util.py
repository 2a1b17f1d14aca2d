"""Vectorized helpers: id strings, IPs, segments, time constants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ObjArray = npt.NDArray[np.object_]

_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _strings(prefix: str, body: npt.NDArray[np.uint8]) -> ObjArray:
    """Join an ASCII prefix with rows of ASCII codes into Python strings."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = head.size + body.shape[1]
    chars = np.empty((body.shape[0], width), dtype=np.uint8)
    chars[:, : head.size] = head
    chars[:, head.size :] = body
    fixed = chars.view(f"S{width}").reshape(-1)
    return fixed.astype(f"U{width}").astype(object)


def format_ids(prefix: str, numbers: npt.ArrayLike, width: int) -> ObjArray:
    """Zero-padded ids such as ``C000123`` without a per-row Python loop."""
    values = np.asarray(numbers, dtype=np.int64)
    if values.size and (values.min() < 0 or values.max() >= 10**width):
        raise ValueError(f"ids do not fit in {width} digits")
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (values[:, None] // powers) % 10
    return _strings(prefix, _DIGITS[digits])


def id_width(count: int, minimum: int = 6) -> int:
    """Digits needed to number ``count`` entities (at least ``minimum``)."""
    return max(minimum, len(str(max(count - 1, 0))))


def random_hex_ids(rng: np.random.Generator, n: int, prefix: str, width: int = 10) -> ObjArray:
    """Random ids like ``dev_3fa9c01b2e``.

    ``width`` stays at most 11 so no id holds a 12-digit run that could be
    mistaken for a card number.
    """
    if width > 11:
        raise ValueError("width must be <= 11")
    return _strings(prefix, _HEX[rng.integers(0, 16, size=(n, width))])


def ipv4(rng: np.random.Generator, first_octets: npt.ArrayLike) -> ObjArray:
    """Dotted IPv4 strings, one per given first octet."""
    first = np.asarray(first_octets, dtype=np.int64)
    rest = rng.integers(1, 255, size=(first.size, 3))
    parts = [first.astype(str), *(rest[:, i].astype(str) for i in range(3))]
    joined = parts[0]
    for part in parts[1:]:
        joined = np.strings.add(np.strings.add(joined, "."), part)
    return joined.astype(object)


def segment_starts(sizes: IntArray) -> IntArray:
    """Index of the first row of each segment (segments laid end to end)."""
    return np.cumsum(sizes) - sizes


def position_in_segment(sizes: IntArray) -> IntArray:
    """0, 1, ... within each segment, for every row."""
    return np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(segment_starts(sizes), sizes)


def segmented_cumsum(values: FloatArray, sizes: IntArray) -> FloatArray:
    """Cumulative sum restarting at each segment (sizes must be >= 1)."""
    total = np.cumsum(values)
    starts = segment_starts(sizes)
    return total - np.repeat(total[starts] - values[starts], sizes)


def draw_sizes(
    rng: np.random.Generator,
    total: int,
    draw: Callable[[np.random.Generator, int], IntArray],
    *,
    exact: bool,
) -> IntArray:
    """Draw segment sizes until they cover ``total`` rows.

    Args:
        rng: random generator.
        total: rows to cover.
        draw: ``draw(rng, k)`` returns ``k`` sizes, each >= 1.
        exact: trim the last segment so the sizes sum to ``total``; otherwise
            the last segment is kept whole (the sum may overshoot a little).
    """
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    chunks: list[IntArray] = []
    covered = 0
    while covered < total:
        sizes = np.asarray(draw(rng, max(8, total // 2)), dtype=np.int64)
        chunks.append(sizes)
        covered += int(sizes.sum())
    sizes = np.concatenate(chunks)
    cut = int(np.searchsorted(np.cumsum(sizes), total)) + 1
    sizes = sizes[:cut].copy()
    if exact:
        sizes[-1] -= int(sizes.sum()) - total
    return sizes


def pick(rng: np.random.Generator, pool: IntArray, n: int) -> IntArray:
    """``n`` uniform draws (with replacement) from ``pool``."""
    return pool[rng.integers(0, pool.size, size=n)]


def epoch_us(day: date) -> int:
    """Microseconds since the epoch at 00:00 UTC of ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * SECOND_US


def local_amount(eur: FloatArray, per_eur: FloatArray, cash: npt.NDArray[np.bool_]) -> FloatArray:
    """Convert EUR amounts to the terminal's currency, rounded to cents.

    Cash withdrawals (``cash``) are rounded to a note-like unit of the local
    currency (10 EUR, 10 GBP, 100 THB, ...).
    """
    local = eur * per_eur
    unit = 10.0 ** (np.floor(np.log10(np.maximum(per_eur, 1.0))) + 1.0)
    notes = np.maximum(unit, np.round(local / unit) * unit)
    return np.maximum(np.round(np.where(cash, notes, local), 2), 0.01)
