"""Terminal features for a whole batch at once (numpy), identical to ``definitions``.

The batch's state blobs are read together (``blob_batch``) and their days and
fraud marks are flattened CSR-style as in ``compute``; counts and cents are
integers, so their sums are exact, and the only float operations are the
final divisions ``definitions`` also makes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudlens.features.blob_batch import gather, join
from fraudlens.features.compute import Ints, safe_divide
from fraudlens.features.registry import MATURED_WINDOWS, TERMINAL_AMOUNT_DAYS, TERMINAL_DAY_WINDOWS
from fraudlens.features.state import DEFAULT_MATURED_DELAY_DAYS, TERMINAL_BLOB, US_PER_DAY
from fraudlens.features.state_codec import (
    HEADER_SIZE,
    TERMINAL_FORMAT_VERSION,
    TERMINAL_MAGIC,
    terminal_views,
)


def _segment_sums(values: Ints, offsets: Ints) -> Ints:
    """Per row, the (exact, integer) sum of its values."""
    total = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=total[1:])
    return total[offsets[1:]] - total[offsets[:-1]]


def _flatten(values: Sequence[Any]) -> tuple[list[Ints], list[Ints]]:
    """The days (offsets, day, tx, cents) and the fraud marks (offsets, label time,
    fraud day) of every row's blob, concatenated (``blob_batch``).

    Raises:
        FeatureStoreError: a blob is not readable (``state_codec.terminal_views``).
    """
    blobs = join(values, TERMINAL_MAGIC, (TERMINAL_FORMAT_VERSION,), terminal_views)
    days, marks = blobs.first, blobs.second
    blobs.require(blobs.size == HEADER_SIZE + 8 * (3 * days + 2 * marks))
    wide = blobs.words("<i8")
    out: list[list[Ints]] = []
    first = (blobs.start + HEADER_SIZE) // 8
    for base, count, fields in ((first, days, 3), (first + 3 * days, marks, 2)):
        offsets = np.zeros(len(count) + 1, dtype=np.int64)
        np.cumsum(count, out=offsets[1:])
        index, steps = gather(base, count), np.repeat(count, count)
        out.append([offsets, *(wide[index + k * steps] for k in range(fields))])
    return out[0], out[1]


def terminal_matrix(
    inputs: Mapping[str, Sequence[Any]],
    *,
    matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS,
) -> dict[str, NDArray[Any]]:
    """Every terminal feature for every row of ODFV ``inputs``, as numpy columns.

    Same names, order and values as ``definitions.terminal_features`` row by
    row (with the same ``matured_delay_days``): whole UTC days before the
    request's day, fraud marks whose label arrived strictly before the request.
    """
    t = np.array(inputs["req_time_us"], dtype=np.int64)
    rows = len(t)
    today = t // US_PER_DAY
    blobs = inputs[TERMINAL_BLOB] if TERMINAL_BLOB in inputs else [None] * rows
    (day_offsets, day, tx, cents), (mark_offsets, label_us, fraud_day) = _flatten(blobs)
    day_ago = day - np.repeat(today, np.diff(day_offsets))
    mark_row = np.repeat(np.arange(rows), np.diff(mark_offsets))
    arrived = label_us < t[mark_row]
    mark_ago = fraud_day - today[mark_row]
    out: dict[str, NDArray[Any]] = {}
    # (feature prefix, first day back, last day back (exclusive), window length)
    windows = [("", days, 0, days) for days in TERMINAL_DAY_WINDOWS]
    delay = matured_delay_days
    windows += [("matured_", delay + days, delay, days) for days in MATURED_WINDOWS]
    for kind, first, stop, days in windows:
        in_window = (day_ago >= -first) & (day_ago < -stop)
        count = _segment_sums(np.where(in_window, tx, 0), day_offsets)
        marks = arrived & (mark_ago >= -first) & (mark_ago < -stop)
        fraud = _segment_sums(marks.astype(np.int64), mark_offsets)
        out[f"term_{kind}tx_count_{days}d"] = count
        out[f"term_{kind}fraud_count_{days}d"] = fraud
        out[f"term_{kind}fraud_rate_{days}d"] = safe_divide(
            fraud.astype(np.float64), count, count > 0, 0.0
        )
    inside = (day_ago >= -TERMINAL_AMOUNT_DAYS) & (day_ago < 0)
    count = _segment_sums(np.where(inside, tx, 0), day_offsets)
    total = _segment_sums(np.where(inside, cents, 0), day_offsets)
    mean = safe_divide(total.astype(np.float64), 100 * count, count > 0, 0.0)
    amount = np.array(inputs["req_amount"], dtype=np.float64)
    out[f"term_amount_mean_{TERMINAL_AMOUNT_DAYS}d"] = mean
    ratio = safe_divide(amount, mean, mean > 0, 1.0)
    out[f"term_amount_ratio_{TERMINAL_AMOUNT_DAYS}d"] = np.where(mean > 0, ratio, amount)
    return out
