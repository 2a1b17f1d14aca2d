"""Card features for a whole batch at once (numpy), identical to ``definitions``.

``definitions.card_features`` stays the one definition and the test oracle;
this module computes the same values for every row of an ODFV input batch
with array operations instead of a Python loop per row. The states of the
batch are flattened CSR-style: the events of row ``i`` are
``[offsets[i], offsets[i + 1])`` of the concatenated arrays, sorted by time
within a row (the state invariant). Floats match bit for bit: sums are
left-to-right cumulative sums (what ``seq_sum`` does), and the distance is the
shared ``haversine_array``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fraudlens.features.definitions import (
    MIN_SPEED_HOURS,
    NIGHT_HOURS,
    STD_REL_EPSILON,
    US_PER_HOUR,
    haversine_array,
)
from fraudlens.features.registry import WINDOWS
from fraudlens.features.state import CARD_COLUMNS, MISSING_COORD, US_PER_DAY, US_PER_SECOND

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
WINDOW_30D = 30 * US_PER_DAY


@dataclass(frozen=True, slots=True)
class RequestBatch:
    """The request columns of a batch (coordinates as stored: ``MISSING_COORD``)."""

    time_us: Ints
    amount: Floats
    terminal: list[str]
    merchant: list[str]
    country: list[str]
    lat: Floats
    lon: Floats


@dataclass(frozen=True, slots=True)
class CardBatch:
    """The card states of a batch, concatenated; row i owns ``offsets[i]:offsets[i+1]``."""

    offsets: Ints
    ts: Ints
    amount: Floats
    terminal: list[str]
    merchant: list[str]
    country: list[str]
    lat: Floats
    lon: Floats


def _coords(values: Sequence[Any]) -> Floats:
    """``state.coord`` over a column: None, NaN or outside [-180, 180] -> MISSING_COORD."""
    out = np.array(values, dtype=np.float64)
    out[~((out >= -180.0) & (out <= 180.0))] = MISSING_COORD
    return out


def request_batch(inputs: Mapping[str, Sequence[Any]]) -> RequestBatch:
    """The request columns of ODFV ``inputs`` as arrays."""
    return RequestBatch(
        time_us=np.array(inputs["req_time_us"], dtype=np.int64),
        amount=np.array(inputs["req_amount"], dtype=np.float64),
        terminal=[str(v) for v in inputs["req_terminal_id"]],
        merchant=[str(v) for v in inputs["req_merchant_id"]],
        country=[str(v) for v in inputs["req_country"]],
        lat=_coords(inputs["req_lat"]),
        lon=_coords(inputs["req_lon"]),
    )


def card_batch(inputs: Mapping[str, Sequence[Any]], rows: int) -> CardBatch:
    """The card state columns of ODFV ``inputs``, flattened.

    A row whose lists are missing, empty or of unequal lengths has no state
    (as ``state.card_from_row`` says) and owns no events.
    """
    empty: list[Any] = []
    cols = [inputs[col] if col in inputs else [None] * rows for col, _, _ in CARD_COLUMNS]
    lists: list[list[Sequence[Any]]] = [[] for _ in CARD_COLUMNS]
    counts = np.zeros(rows, dtype=np.int64)
    for i, row in enumerate(zip(*cols, strict=True)):
        values = [empty if v is None else v for v in row]
        n = len(values[0])
        if n and all(len(v) == n for v in values):
            counts[i] = n
            for out, v in zip(lists, values, strict=True):
                out.append(v)
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])

    def numbers(k: int, dtype: type[np.generic]) -> Any:
        return np.fromiter(chain.from_iterable(lists[k]), dtype=dtype, count=total)

    return CardBatch(
        offsets=offsets,
        ts=numbers(0, np.int64),
        amount=numbers(1, np.float64),
        terminal=list(chain.from_iterable(lists[2])),
        merchant=list(chain.from_iterable(lists[3])),
        country=list(chain.from_iterable(lists[4])),
        lat=numbers(5, np.float64),
        lon=numbers(6, np.float64),
    )


def _positions(before: NDArray[np.bool_], offsets: Ints) -> Ints:
    """Per row, the index of its first event not ``before`` (``bisect_left`` on sorted times)."""
    seen = np.zeros(len(before) + 1, dtype=np.int64)
    np.cumsum(before, out=seen[1:])
    start, stop = offsets[:-1], offsets[1:]
    return start + seen[stop] - seen[start]


def _window(values: Floats, lo: Ints, end: Ints, pad: float) -> tuple[Floats, NDArray[np.bool_]]:
    """Row i's ``values[lo[i]:end[i]]`` left-aligned in a matrix padded with ``pad``."""
    length = end - lo
    width = int(length.max(initial=0))
    steps = np.arange(width)
    inside = steps < length[:, None]
    if not len(values):
        return np.full(inside.shape, pad), inside
    index = np.minimum(lo[:, None] + steps, len(values) - 1)
    return np.where(inside, values[index], pad), inside


def _row_sums(matrix: Floats) -> Floats:
    """Left-to-right row sums from 0.0, bit-exact with ``definitions.seq_sum``."""
    if matrix.shape[1] == 0:
        return np.zeros(matrix.shape[0])
    # Adding 0.0 turns a -0.0 total into 0.0, as seq_sum's start value does.
    sums: Floats = np.cumsum(matrix, axis=1)[:, -1] + 0.0
    return sums


def _divide(num: Floats, den: Any, where: NDArray[np.bool_], default: float) -> Floats:
    """``num / den`` where ``where``, else ``default`` (no division by zero)."""
    out: Floats = np.full(len(num), default)
    np.divide(num, den, out=out, where=where)
    return out


def _distinct(
    row: Ints, strings: list[str], requested: list[str], masks: tuple[NDArray[np.bool_], ...]
) -> tuple[list[Ints], NDArray[np.bool_]]:
    """Distinct values per row under each mask, and whether the request's value is new.

    The last mask is the 30-day window that "new" refers to.
    """
    rows = len(requested)
    codes, uniques = pd.factorize(np.array(strings + requested, dtype=object))
    width = max(len(uniques), 1)
    keys = row * width + codes[: len(strings)]
    counts: list[Ints] = []
    seen = np.zeros(0, dtype=np.int64)
    for mask in masks:
        seen = np.unique(keys[mask])
        counts.append(np.bincount(seen // width, minlength=rows).astype(np.int64))
    wanted = np.arange(rows, dtype=np.int64) * width + codes[len(strings) :]
    at = np.searchsorted(seen, wanted)
    found = np.zeros(rows, dtype=bool)
    hit = at < len(seen)
    found[hit] = seen[at[hit]] == wanted[hit]
    return counts, ~found


def card_matrix(inputs: Mapping[str, Sequence[Any]]) -> dict[str, NDArray[Any]]:
    """Every card feature for every row of ODFV ``inputs``, as numpy columns.

    Same names, order and values as ``definitions.card_features`` row by row.
    """
    req = request_batch(inputs)
    return card_columns(card_batch(inputs, len(req.time_us)), req)


def card_columns(cards: CardBatch, req: RequestBatch) -> dict[str, NDArray[Any]]:
    """Every card feature for a flattened batch of states and its requests."""
    rows = len(req.time_us)
    row = np.repeat(np.arange(rows, dtype=np.int64), np.diff(cards.offsets))
    t = req.time_us
    rel = cards.ts - t[row]  # < 0: strictly before the request
    end = _positions(rel < 0, cards.offsets)
    out: dict[str, NDArray[Any]] = {}
    lo: dict[str, Ints] = {}
    sums: dict[str, Floats] = {}
    for name, width_us in WINDOWS:
        lo[name] = _positions(rel < -width_us, cards.offsets)
        window, inside = _window(cards.amount, lo[name], end, 0.0)
        n = end - lo[name]
        sums[name] = _row_sums(window)
        out[f"card_tx_count_{name}"] = n
        out[f"card_amount_sum_{name}"] = sums[name]
        out[f"card_amount_mean_{name}"] = _divide(sums[name], n, n > 0, 0.0)
        top = np.where(inside, window, -np.inf).max(axis=1, initial=-np.inf)
        out[f"card_amount_max_{name}"] = np.where(n > 0, top + 0.0, 0.0)

    in_1d = (rel < 0) & (rel >= -US_PER_DAY)
    in_30d = (rel < 0) & (rel >= -WINDOW_30D)
    for what, strings, requested, new in (
        ("terminals", cards.terminal, req.terminal, "terminal"),
        ("merchants", cards.merchant, req.merchant, "merchant"),
        ("countries", cards.country, req.country, "country"),
    ):
        (day, month), unseen = _distinct(row, strings, requested, (in_1d, in_30d))
        out[f"card_distinct_{what}_1d"] = day
        out[f"card_distinct_{what}_30d"] = month
        out[f"card_new_{new}_30d"] = unseen.astype(np.int64)

    n30 = end - lo["30d"]
    mean = _divide(sums["30d"], n30, n30 > 0, 0.0)
    window, inside = _window(cards.amount, lo["30d"], end, 0.0)
    d = window - mean[:, None]
    std = np.sqrt(_divide(_row_sums(np.where(inside, d * d, 0.0)), n30, n30 > 0, 0.0))
    spread = (n30 >= 2) & (std > STD_REL_EPSILON * np.abs(mean))
    out["card_amount_ratio_30d"] = _divide(req.amount, mean, (n30 > 0) & (mean > 0), 1.0)
    out["card_amount_zscore_30d"] = _divide(req.amount - mean, std, spread, 0.0)

    out.update(_previous(cards, req, lo["30d"], end))
    shift = np.rint(req.lon / 15.0 * US_PER_HOUR).astype(np.int64)
    local = np.where(req.lon == MISSING_COORD, t, t + shift)
    hour = (local // US_PER_HOUR) % 24
    weekday = (local // US_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    out["txn_local_hour"] = hour
    out["txn_is_night"] = ((hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])).astype(np.int64)
    out["txn_is_weekend"] = (weekday >= 5).astype(np.int64)
    out["txn_amount"] = req.amount
    return out


def _has_location(lat: Floats, lon: Floats) -> NDArray[np.bool_]:
    known: NDArray[np.bool_] = (lat != MISSING_COORD) & (lon != MISSING_COORD)
    return known & (lat >= -90.0) & (lat <= 90.0)


def _previous(cards: CardBatch, req: RequestBatch, lo: Ints, end: Ints) -> dict[str, Floats]:
    """Time, distance and speed from the previous transaction (within 30 days)."""
    rows = len(req.time_us)
    secs = np.full(rows, -1.0)
    km = np.full(rows, -1.0)
    speed = np.full(rows, -1.0)
    out = {
        "card_secs_since_prev": secs,
        "card_km_from_prev": km,
        "card_speed_kmh_from_prev": speed,
    }
    has_prev = end > lo
    if not has_prev.any():
        return out
    last = end[has_prev] - 1
    secs[has_prev] = (req.time_us[has_prev] - cards.ts[last]) / US_PER_SECOND
    # The most recent event at or before each index that had a location.
    located = np.where(_has_location(cards.lat, cards.lon), np.arange(len(cards.ts)), -1)
    latest = np.maximum.accumulate(located)
    j = np.full(rows, -1, dtype=np.int64)
    j[has_prev] = latest[last]
    ok = has_prev & (j >= lo) & _has_location(req.lat, req.lon)
    if not ok.any():
        return out
    jj = j[ok]
    dist = haversine_array(cards.lat[jj], cards.lon[jj], req.lat[ok], req.lon[ok])
    hours = np.maximum((req.time_us[ok] - cards.ts[jj]) / US_PER_HOUR, MIN_SPEED_HOURS)
    km[ok] = dist
    speed[ok] = dist / hours
    return out
