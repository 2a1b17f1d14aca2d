"""Card features for a whole batch at once (numpy), identical to ``definitions``.

Terminal features: ``compute_terminal``.

``definitions`` stays the one definition and the test oracle;
this module computes the same values for every row of an ODFV input batch
with array operations instead of a Python loop per row. The states of the
batch are flattened CSR-style: the events of row ``i`` are
``[offsets[i], offsets[i + 1])`` of the concatenated arrays, sorted by time
within a row (the state invariant). Floats match bit for bit: sums are
left-to-right cumulative sums (what ``seq_sum`` does), and distances come from
the same scalar ``haversine_km``, once per row that has one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudlens.errors import FeatureStoreError
from fraudlens.features.blob_batch import gather, join
from fraudlens.features.definitions import (
    MIN_SPEED_HOURS,
    NIGHT_HOURS,
    STD_REL_EPSILON,
    US_PER_HOUR,
    haversine_km,
)
from fraudlens.features.online_ids import NO_ID, UNKNOWN_ID
from fraudlens.features.registry import WINDOWS
from fraudlens.features.state import (
    CARD_BLOB,
    MISSING_COORD,
    US_PER_DAY,
    US_PER_SECOND,
)
from fraudlens.features.state_codec import (
    CARD_MAGIC,
    CARD_READ_VERSIONS,
    HEADER_SIZE,
    card_views,
    card_wide_columns,
)

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Codes = NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class RequestBatch:
    """The request columns of a batch (coordinates as stored: ``MISSING_COORD``;
    device and IP as ``online_ids`` codes)."""

    time_us: Ints
    amount: Floats
    terminal: list[str]
    merchant: list[str]
    country: list[str]
    lat: Floats
    lon: Floats
    device: Ints
    ip: Ints


@dataclass(frozen=True, slots=True)
class CardBatch:
    """The card states of a batch, flattened CSR-style.

    Row i owns ``offsets[i]:offsets[i+1]`` of every event array (``device`` and
    ``ip``: ``UNKNOWN_ID`` for the events of a format 1 blob). Terminal,
    merchant and country are codes into the row's own string table, as stored
    in the blob (``fraudlens.features.state_codec``): comparing codes within a
    row is comparing the strings. The tables stay encoded in ``buffer`` (the
    batch's blobs, ``blob_batch``): row i's text starts at byte
    ``text_at[i]`` and its strings end at ``ends[tables[i]:tables[i+1]]``
    (relative to ``text_at[i]``).
    """

    offsets: Ints
    ts: Ints
    amount: Floats
    lat: Floats
    lon: Floats
    device: Ints
    ip: Ints
    terminal: Codes
    merchant: Codes
    country: Codes
    buffer: bytes
    text_at: Ints
    tables: Ints
    ends: Ints


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
        device=np.array(inputs["req_device"], dtype=np.int64),
        ip=np.array(inputs["req_ip"], dtype=np.int64),
    )


def card_batch(inputs: Mapping[str, Sequence[Any]], rows: int) -> CardBatch:
    """The card state blobs of ODFV ``inputs``, flattened (``blob_batch``).

    A row without a blob (no state) owns no events.

    Raises:
        FeatureStoreError: a blob is not readable (``state_codec.card_views``).
    """
    values = inputs[CARD_BLOB] if CARD_BLOB in inputs else [None] * rows
    blobs = join(values, CARD_MAGIC, CARD_READ_VERSIONS, _read)
    n, k, start = blobs.first, blobs.second, blobs.start
    # The layout of ``state_codec.encode_card``; format 1 lacks the device and IP columns.
    has_ids = blobs.version != 1
    wide_columns = np.where(has_ids, card_wide_columns(2), card_wide_columns(1))
    codes_at = HEADER_SIZE + 8 * wide_columns * n
    text_at = codes_at + 12 * n + 4 * k
    blobs.require(blobs.size >= text_at)
    last_end = blobs.words("<u4")[np.where(k > 0, (start + text_at) // 4 - 1, 0)]
    blobs.require(blobs.size == text_at + np.where(k > 0, last_end, 0))
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(n, out=offsets[1:])
    tables = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(k, out=tables[1:])
    wide, floats, narrow = blobs.words("<i8"), blobs.words("<f8"), blobs.words("<i4")
    event = gather((start + HEADER_SIZE) // 8, n)
    steps = np.repeat(n, n)
    code = gather((start + codes_at) // 4, n)
    ids = np.repeat(has_ids, n)
    device = np.where(ids, wide[np.where(ids, event + 4 * steps, event)], UNKNOWN_ID)
    ip = np.where(ids, wide[np.where(ids, event + 5 * steps, event)], UNKNOWN_ID)
    batch = CardBatch(
        offsets=offsets,
        ts=wide[event],
        amount=floats[event + steps],
        lat=floats[event + 2 * steps],
        lon=floats[event + 3 * steps],
        device=device,
        ip=ip,
        terminal=narrow[code],
        merchant=narrow[code + steps],
        country=narrow[code + 2 * steps],
        buffer=blobs.buffer,
        text_at=start + text_at,
        tables=tables,
        ends=blobs.words("<u4")[gather((start + codes_at + 12 * n) // 4, k)].astype(np.int64),
    )
    # Every code within its row's table (checked here once for the batch).
    size = np.repeat(k, n)
    for codes in (batch.terminal, batch.merchant, batch.country):
        if ((codes < 0) | (codes >= size)).any():
            raise FeatureStoreError("card state blob has a string code outside its table")
    return batch


def _read(blob: Any) -> object:
    return card_views(blob, check_codes=False)


def _table_code(buffer: bytes, base: int, ends: list[int], lo: int, hi: int, value: str) -> int:
    """The code of ``value`` in the table ``ends[lo:hi]`` whose text starts at byte
    ``base``; -1 when absent (``state_codec.CardViews.code`` on a joined buffer)."""
    want = value.encode()
    size = len(want)
    if not size:
        sizes = [b - a for a, b in zip([0, *ends[lo:hi]], ends[lo:hi], strict=False)]
        return sizes.index(0) if 0 in sizes else -1
    stop = base + ends[hi - 1]
    found = buffer.find(want, base, stop)
    while found >= 0:
        # A hit counts only where a whole string of the table starts and ends.
        at = found - base
        i = bisect_left(ends, at + size, lo, hi)
        if i < hi and ends[i] == at + size and (ends[i - 1] if i > lo else 0) == at:
            return i - lo
        found = buffer.find(want, found + 1, stop)
    return -1


def request_codes(cards: CardBatch, req: RequestBatch) -> tuple[Ints, Ints, Ints]:
    """Per row, the codes of the request's terminal, merchant and country in the row's
    table (-1: the card never used it)."""
    out: tuple[list[int], list[int], list[int]] = ([], [], [])
    buffer, ends, tables = cards.buffer, cards.ends.tolist(), cards.tables.tolist()
    wanted_rows = zip(req.terminal, req.merchant, req.country, strict=True)
    for i, (base, wanted) in enumerate(zip(cards.text_at.tolist(), wanted_rows, strict=True)):
        lo, hi = tables[i], tables[i + 1]
        for codes, value in zip(out, wanted, strict=True):
            codes.append(_table_code(buffer, base, ends, lo, hi, value) if hi > lo else -1)
    terminal, merchant, country = (np.array(c, dtype=np.int64) for c in out)
    return terminal, merchant, country


def _positions(before: NDArray[np.bool_], offsets: Ints) -> Ints:
    """Per row, the index of its first event not ``before`` (``bisect_left`` on sorted times)."""
    seen = np.zeros(len(before) + 1, dtype=np.int64)
    np.cumsum(before, out=seen[1:])
    start, stop = offsets[:-1], offsets[1:]
    return start + seen[stop] - seen[start]


def _recent(values: Floats, end: Ints, length: Ints) -> Floats:
    """Row i's last ``length[i]`` values before ``end[i]``, right-aligned, 0.0 on the left.

    Every window ends at the same event, so one matrix serves them all: a
    window keeps its last columns and zeroes the rest, and leading zeros leave
    a left-to-right sum from 0.0 unchanged.
    """
    width = int(length.max(initial=0))
    steps = np.arange(width)
    inside = steps >= width - length[:, None]
    if not len(values):
        return np.zeros(inside.shape)
    index = np.clip(end[:, None] - width + steps, 0, len(values) - 1)
    return np.where(inside, values[index], 0.0)


def _row_sums(matrix: Floats) -> Floats:
    """Left-to-right row sums from 0.0, bit-exact with ``definitions.seq_sum``."""
    if matrix.shape[1] == 0:
        return np.zeros(matrix.shape[0])
    # Adding 0.0 turns a -0.0 total into 0.0, as seq_sum's start value does.
    sums: Floats = np.cumsum(matrix, axis=1)[:, -1] + 0.0
    return sums


def safe_divide(num: Floats, den: Any, where: NDArray[np.bool_], default: float) -> Floats:
    """``num / den`` where ``where``, else ``default`` (no division by zero)."""
    out: Floats = np.full(len(num), default)
    np.divide(num, den, out=out, where=where)
    return out


def _running(flags: NDArray[np.bool_]) -> Ints:
    """How many ``flags`` are set before each index (0 to ``len(flags)``):
    ``_running(f)[b] - _running(f)[a]`` is the count in ``[a, b)``, exact."""
    seen = np.zeros(len(flags) + 1, dtype=np.int64)
    np.cumsum(flags, out=seen[1:])
    return seen


def _distinct(
    cards: CardBatch, requested: list[Ints], row: Ints, lo_1d: Ints, lo_30d: Ints, end: Ints
) -> list[tuple[Ints, Ints, Ints]]:
    """For terminal, merchant and country: distinct values per row over 1 and 30 days,
    and 1 if the request's value is new.

    An event counts once in a window ``[lo, end)`` when it is its value's last
    occurrence before ``end``. The three code columns are stacked (column c's
    event j at ``c * n + j``), and (column, row, code) is a slot of the rows'
    tables laid end to end, so one ``maximum.at`` finds every last occurrence.
    """
    # int32 throughout (a batch holds far fewer than 2**31 / 3 events and strings):
    # smaller arrays, fewer fresh pages.
    codes = np.stack([cards.terminal, cards.merchant, cards.country])
    n, size = len(row), int(cards.tables[-1])
    kinds = np.arange(3, dtype=np.int32)[:, None] * np.int32(size)
    slot = (kinds + cards.tables[:-1].astype(np.int32)[row] + codes).ravel()
    index = np.arange(3 * n, dtype=np.int32)
    before = np.tile(np.arange(n) < end[row], 3)
    latest = np.full(3 * size, -1, dtype=np.int32)
    np.maximum.at(latest, slot[before], index[before])
    last = _running(latest[slot] == index)  # never true at or after end
    wanted = np.stack(requested).astype(np.int32)[:, row]
    hits = _running((codes == wanted).ravel())  # -1 never matches
    out = []
    for c in range(3):
        stop, day, month = c * n + end, c * n + lo_1d, c * n + lo_30d
        new = (hits[stop] - hits[month] == 0).astype(np.int64)
        out.append((last[stop] - last[day], last[stop] - last[month], new))
    return out


def _novelty(codes: Ints, wanted: Ints, row: Ints, lo: Ints, end: Ints) -> Ints:
    """``definitions._novelty`` per row over the events ``[lo, end)``."""
    hits = _running(codes == wanted[row])
    unknown = _running(codes == UNKNOWN_ID)
    found = hits[end] > hits[lo]
    new = np.where(found, 0, np.where(unknown[end] > unknown[lo], -1, 1))
    new[(wanted == NO_ID) | (wanted == UNKNOWN_ID)] = -1
    return new.astype(np.int64)


def _device_age(cards: CardBatch, req: RequestBatch, row: Ints, lo: Ints, end: Ints) -> Floats:
    """``definitions._device_age`` per row over the events ``[lo, end)``."""
    match = cards.device == req.device[row]
    hits, unknown = _running(match), _running(cards.device == UNKNOWN_ID)
    age = np.zeros(len(req.time_us))
    found = np.flatnonzero(hits[end] > hits[lo])
    # The first match at or after lo: matches before lo are hits[lo] of them.
    first = np.flatnonzero(match)[hits[lo[found]]]
    age[found] = (req.time_us[found] - cards.ts[first]) / US_PER_SECOND
    blind = (req.device == NO_ID) | (req.device == UNKNOWN_ID) | (unknown[end] > unknown[lo])
    age[blind] = -1.0
    return age


def _online_ids(
    cards: CardBatch, req: RequestBatch, row: Ints, lo: Ints, end: Ints
) -> dict[str, Ints]:
    """Device and IP novelty and distinct devices over the events ``[lo, end)`` of each row."""
    index = np.arange(len(row))
    inside = (index >= lo[row]) & (index < end[row]) & (cards.device != NO_ID)
    # Distinct (row, device) pairs: sort, keep the first of each run.
    rows, codes = row[inside], cards.device[inside]
    order = np.lexsort((codes, rows))
    rows, codes = rows[order], codes[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (codes[1:] != codes[:-1])
    size = len(req.time_us)
    distinct = np.bincount(rows[first], minlength=size).astype(np.int64)
    unknown = np.bincount(rows[codes == UNKNOWN_ID], minlength=size) > 0
    return {
        "card_new_device_30d": _novelty(cards.device, req.device, row, lo, end),
        "card_new_ip_30d": _novelty(cards.ip, req.ip, row, lo, end),
        "card_device_age_secs_30d": _device_age(cards, req, row, lo, end),
        "card_distinct_devices_30d": np.where(unknown, -1, distinct),
    }


def _same_terminal(codes: Codes, requested: Ints, end: Ints, length: Ints) -> NDArray[np.bool_]:
    """Per row, which of its last ``length`` events before ``end`` (right-aligned as
    ``_recent``) share the request's terminal."""
    width = int(length.max(initial=0))
    steps = np.arange(width)
    inside = steps >= width - length[:, None]
    if not len(codes):
        return np.zeros(inside.shape, dtype=bool)
    index = np.clip(end[:, None] - width + steps, 0, len(codes) - 1)
    same: NDArray[np.bool_] = inside & (codes[index] == requested[:, None])
    return same


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
    n30 = end - lo["30d"]
    recent = _recent(cards.amount, end, n30)
    # Column k of ``recent`` holds the event ``age[k]`` places before the last one.
    age = np.arange(recent.shape[1])[::-1]
    for name, _ in WINDOWS:
        n = end - lo[name]
        inside = age < n[:, None]
        window = np.where(inside, recent, 0.0)
        sums[name] = _row_sums(window)
        out[f"card_tx_count_{name}"] = n
        out[f"card_amount_sum_{name}"] = sums[name]
        out[f"card_amount_mean_{name}"] = safe_divide(sums[name], n, n > 0, 0.0)
        top = np.where(inside, window, -np.inf).max(axis=1, initial=-np.inf)
        out[f"card_amount_max_{name}"] = np.where(n > 0, top + 0.0, 0.0)

    wanted = request_codes(cards, req)
    counted = _distinct(cards, list(wanted), row, lo["1d"], lo["30d"], end)
    for (what, one), (day, month, new) in zip(
        (("terminals", "terminal"), ("merchants", "merchant"), ("countries", "country")),
        counted,
        strict=True,
    ):
        out[f"card_distinct_{what}_1d"] = day
        out[f"card_distinct_{what}_30d"] = month
        out[f"card_new_{one}_30d"] = new
    out.update(_online_ids(cards, req, row, lo["30d"], end))

    mean = safe_divide(sums["30d"], n30, n30 > 0, 0.0)
    inside = age < n30[:, None]
    d = recent - mean[:, None]
    std = np.sqrt(safe_divide(_row_sums(np.where(inside, d * d, 0.0)), n30, n30 > 0, 0.0))
    spread = (n30 >= 2) & (std > STD_REL_EPSILON * np.abs(mean))
    out["card_amount_ratio_30d"] = safe_divide(req.amount, mean, (n30 > 0) & (mean > 0), 1.0)
    out["card_amount_zscore_30d"] = safe_divide(req.amount - mean, std, spread, 0.0)
    # Zeros between the matching amounts leave the left-to-right sum unchanged.
    here = _same_terminal(cards.terminal, wanted[0], end, n30)
    here_sum = _row_sums(np.where(here, recent, 0.0))
    n_here = here.sum(axis=1)
    here_mean = safe_divide(here_sum, n_here, n_here > 0, 0.0)
    ratio_here = safe_divide(req.amount, here_mean, here_mean > 0, 1.0)
    out["card_amount_ratio_terminal_30d"] = np.where(
        here_mean > 0, ratio_here, out["card_amount_ratio_30d"]
    )

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
    secs[has_prev] = (req.time_us[has_prev] - cards.ts[end[has_prev] - 1]) / US_PER_SECOND
    # The most recent earlier event that had a location, if within 30 days:
    # the last located event before ``end``, when it is at or after ``lo``.
    has_place = (cards.lat != MISSING_COORD) & (cards.lon != MISSING_COORD)
    has_place &= (cards.lat >= -90.0) & (cards.lat <= 90.0)
    places, placed = np.flatnonzero(has_place), _running(has_place)
    located = has_prev & (req.lat != MISSING_COORD) & (req.lon != MISSING_COORD)
    located &= (req.lat >= -90.0) & (req.lat <= 90.0)
    located &= placed[end] > placed[lo]
    if not located.any():
        return out
    ok = np.flatnonzero(located)
    last = places[placed[end[ok]] - 1]
    # The same scalar distance as the definition, on Python floats.
    dist = np.array(
        [
            haversine_km(*coords)
            for coords in zip(
                cards.lat[last].tolist(),
                cards.lon[last].tolist(),
                req.lat[ok].tolist(),
                req.lon[ok].tolist(),
                strict=True,
            )
        ],
        dtype=np.float64,
    )
    elapsed = req.time_us[ok] - cards.ts[last]
    hours = np.maximum(elapsed / US_PER_HOUR, MIN_SPEED_HOURS)
    km[ok] = dist
    speed[ok] = dist / hours
    return out
