"""Terminal features for a whole batch at once (numpy), identical to ``definitions``.

Each row's day lists and fraud marks are flattened CSR-style as in
``compute``; counts and cents are integers, so their sums are exact, and the
only float operations are the final divisions ``definitions`` also makes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudlens.features.compute import Ints, safe_divide
from fraudlens.features.registry import MATURED_WINDOWS, TERMINAL_AMOUNT_DAYS, TERMINAL_DAY_WINDOWS
from fraudlens.features.state import MATURED_DELAY_DAYS, TERMINAL_COLUMNS, US_PER_DAY


def _segment_sums(values: Ints, offsets: Ints) -> Ints:
    """Per row, the (exact, integer) sum of its values."""
    total = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=total[1:])
    return total[offsets[1:]] - total[offsets[:-1]]


def _int_lists(a: Sequence[Any], b: Sequence[Any], keep: list[bool]) -> tuple[Ints, Ints, Ints]:
    """Two parallel int list columns flattened: offsets, first values, second values."""
    pairs = [
        (x, y) if ok and x is not None and y is not None else ((), ())
        for x, y, ok in zip(a, b, keep, strict=True)
    ]
    offsets = np.zeros(len(pairs) + 1, dtype=np.int64)
    np.cumsum([len(x) for x, _ in pairs], out=offsets[1:])
    total = int(offsets[-1])
    first = np.fromiter(chain.from_iterable(x for x, _ in pairs), dtype=np.int64, count=total)
    second = np.fromiter(chain.from_iterable(y for _, y in pairs), dtype=np.int64, count=total)
    return offsets, first, second


def _size(value: Sequence[Any] | None) -> int:
    return 0 if value is None else len(value)


def terminal_matrix(inputs: Mapping[str, Sequence[Any]]) -> dict[str, NDArray[Any]]:
    """Every terminal feature for every row of ODFV ``inputs``, as numpy columns.

    Same names, order and values as ``definitions.terminal_features`` row by
    row: whole UTC days before the request's day, fraud marks whose label
    arrived strictly before the request.
    """
    t = np.array(inputs["req_time_us"], dtype=np.int64)
    rows = len(t)
    today = t // US_PER_DAY
    days_, tx_, cents_, labels_, marks_ = (
        inputs[col] if col in inputs else [None] * rows for col, _, _ in TERMINAL_COLUMNS
    )
    # As ``state.terminal_from_row``: unequal list lengths mean no state at all.
    keep = [
        _size(d) == _size(n) == _size(c) and _size(lab) == _size(m)
        for d, n, c, lab, m in zip(days_, tx_, cents_, labels_, marks_, strict=True)
    ]
    day_offsets, day, tx = _int_lists(days_, tx_, keep)
    _, _, cents = _int_lists(days_, cents_, keep)
    mark_offsets, label_us, fraud_day = _int_lists(labels_, marks_, keep)
    day_ago = day - np.repeat(today, np.diff(day_offsets))
    mark_row = np.repeat(np.arange(rows), np.diff(mark_offsets))
    arrived = label_us < t[mark_row]
    mark_ago = fraud_day - today[mark_row]
    out: dict[str, NDArray[Any]] = {}
    # (feature prefix, first day back, last day back (exclusive), window length)
    windows = [("", days, 0, days) for days in TERMINAL_DAY_WINDOWS]
    delay = MATURED_DELAY_DAYS
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
